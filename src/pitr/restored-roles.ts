import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { composeStartTimeoutMs } from '../common/timeouts.js';
import { execIn, postgresSuperuser } from '../backups/containers.js';
import type { TemplateBlock } from '../templates/block-schema.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import { heldHbaFile } from './staged-data-guard.js';

// A physical restore brings back the whole cluster: its roles, their attributes and password
// verifiers, its functions, languages, event triggers and per-role settings, all from a repository
// that is not trusted (review C2). The restored server is started alone, reachable over its unix
// socket only (staged-data-guard.ts left pg_hba.conf its `local` lines), and before anything else
// logs in or is started:
//   - refused (the backup is unusable, exit 2; the restore undone) when it holds what a tenant's own
//     cluster cannot: a role other than the bootstrap superuser and the template's declared ones
//     that can log in or is SUPERUSER, REPLICATION or BYPASSRLS; a function outside pg_catalog in
//     another language than SQL or PL/pgSQL (the logical path's policy, recover/dump-guard.ts), a C
//     function not from $libdir, a procedural language beyond those, an event trigger, a
//     SECURITY DEFINER function a superuser owns, a per-role or per-database setting that only a
//     superuser may set (session_preload_libraries naming a file in the data directory...);
//   - else settled as provision leaves a cluster: the bootstrap superuser without a password
//     (owner-role.ts), the declared roles NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION.
// Only then are the tenant's own passwords set (passwords.ts), the live pg_hba.conf put back, and
// the rest of the stack started. Each login here overrides what the cluster's settings could put in
// its way (search_path, the *_preload_libraries).

/** What the restored cluster holds that the judgement looks at (one object per database for the per-database parts). */
export interface ClusterFacts {
  roles: Array<{ oid: number; name: string; super: boolean; login: boolean; replication: boolean; bypassrls: boolean }>;
  /** Every per-role and per-database setting's name. */
  settingNames: string[];
  /** The names of the settings any user may set (pg_settings context 'user'). */
  userSettings: string[];
  databases: Array<{ name: string; functions: string[]; languages: string[]; eventTriggers: string[]; superuserDefiners: string[] }>;
}

/** The bootstrap superuser's oid: initdb's, always 10. */
const bootstrapOid = 10;
/** Roles PostgreSQL itself makes (pg_*) have oids below this one. */
const firstNormalOid = 16384;

/** Why the restored cluster is refused (empty: it may run), and the bootstrap superuser's name. */
export function judgeCluster(facts: ClusterFacts, declared: readonly string[]): { refusals: string[]; superuser: string | undefined } {
  const refusals: string[] = [];
  const superuser = facts.roles.find((r) => r.oid === bootstrapOid && r.super)?.name;
  if (!superuser) refusals.push('it has no bootstrap superuser (oid 10)');
  else if (declared.includes(superuser)) refusals.push(`its superuser is the tenant's role ${superuser} (a tenant's role is never one)`);
  for (const role of facts.roles) {
    if (role.oid === bootstrapOid || declared.includes(role.name)) continue;
    const powers = [role.login && 'LOGIN', role.super && 'SUPERUSER', role.replication && 'REPLICATION', role.bypassrls && 'BYPASSRLS'].filter(Boolean);
    if (powers.length > 0) refusals.push(`role ${role.name} is ${powers.join(' ')}${role.oid < firstNormalOid ? ' (a built-in role never is)' : ', and the template declares no such role'}`);
  }
  const suOnly = [...new Set(facts.settingNames.map((n) => n.toLowerCase()))].filter((n) => !n.includes('.') && !facts.userSettings.includes(n));
  if (suOnly.length > 0) refusals.push(`its per-role or per-database settings set ${suOnly.join(', ')}, which only a superuser may`);
  for (const db of facts.databases) {
    if (db.functions.length > 0) refusals.push(`database ${db.name} has functions outside SQL and PL/pgSQL: ${db.functions.slice(0, 3).join(', ')}${db.functions.length > 3 ? ` and ${db.functions.length - 3} more` : ''}`);
    if (db.languages.length > 0) refusals.push(`database ${db.name} has procedural languages ${db.languages.join(', ')}`);
    if (db.eventTriggers.length > 0) refusals.push(`database ${db.name} has event triggers ${db.eventTriggers.join(', ')}`);
    if (db.superuserDefiners.length > 0) refusals.push(`database ${db.name} has SECURITY DEFINER functions a superuser owns: ${db.superuserDefiners.slice(0, 3).join(', ')}`);
  }
  return { refusals, superuser };
}

/** The template's roles in this service: the names its secrets set passwords of. */
export function declaredRoles(block: Pick<TemplateBlock, 'secrets'>, service: string): string[] {
  const roles: string[] = [];
  for (const declaration of Object.values(block.secrets)) {
    const applies = declaration.applies;
    if (applies && 'postgresRole' in applies && applies.postgresRole.service === service) roles.push(applies.postgresRole.role);
  }
  return [...new Set(roles)];
}

/**
 * Server settings for a superuser's login (here, and superuserSql's: the restored server's first
 * logins, before the checks): nothing the cluster set for a role or database runs first (a client's
 * settings win over those; only a superuser may send the preload ones).
 */
export const superuserSessionOptions = '-c search_path=pg_catalog,pg_temp -c session_preload_libraries= -c local_preload_libraries=';
const loginOptions = superuserSessionOptions;

const sharedFactsSql = `SELECT json_build_object(
  'roles', (SELECT coalesce(json_agg(json_build_object('oid', oid::int8, 'name', rolname, 'super', rolsuper, 'login', rolcanlogin, 'replication', rolreplication, 'bypassrls', rolbypassrls) ORDER BY oid), '[]') FROM pg_catalog.pg_roles),
  'settingNames', (SELECT coalesce(json_agg(split_part(s.setting, '=', 1)), '[]') FROM pg_catalog.pg_db_role_setting d CROSS JOIN LATERAL unnest(d.setconfig) AS s(setting)),
  'userSettings', (SELECT coalesce(json_agg(lower(name)), '[]') FROM pg_catalog.pg_settings WHERE context = 'user'),
  'databases', (SELECT coalesce(json_agg(datname ORDER BY datname), '[]') FROM pg_catalog.pg_database WHERE datallowconn))::text`;

const databaseFactsSql = `SELECT json_build_object(
  'functions', (SELECT coalesce(json_agg(format('%s (%s)', p.oid::regprocedure, l.lanname)), '[]') FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE (n.nspname NOT IN ('pg_catalog', 'information_schema') AND l.lanname NOT IN ('sql', 'plpgsql')) OR (p.probin IS NOT NULL AND (p.probin NOT LIKE '$libdir/%' OR p.probin LIKE '%..%'))),
  'languages', (SELECT coalesce(json_agg(lanname), '[]') FROM pg_catalog.pg_language WHERE lanname NOT IN ('internal', 'c', 'sql', 'plpgsql')),
  'eventTriggers', (SELECT coalesce(json_agg(evtname), '[]') FROM pg_catalog.pg_event_trigger),
  'superuserDefiners', (SELECT coalesce(json_agg(p.oid::regprocedure::text), '[]') FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
     WHERE p.prosecdef AND r.rolsuper AND n.nspname NOT IN ('pg_catalog', 'information_schema')))::text`;

async function sqlIn(ctx: Context, container: string, superuser: string, database: string, sql: string, what: string): Promise<string> {
  return (await execIn(ctx.dockerHost, container, ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '/run/postgresql', '-U', superuser, '-d', database, '-c', sql], {
    env: { PGOPTIONS: loginOptions }, signal: ctx.signal, what,
  })).trim();
}

/**
 * The restored cluster judged and settled (see above). `backup` names what was restored, for the
 * refusal. Throws the refusal as the backup being unusable (exit 2): the caller undoes the restore.
 */
export async function settleRestoredRoles(ctx: Context, container: string, anyRole: string, block: Pick<TemplateBlock, 'secrets'>, service: string, backup: string): Promise<void> {
  ctx.reporter.step('checking the restored cluster\'s roles, functions and settings');
  const superuser = await postgresSuperuser(ctx.dockerHost, container, anyRole, ctx.signal);
  const shared = JSON.parse(await sqlIn(ctx, container, superuser, 'postgres', sharedFactsSql, 'reading the restored cluster\'s roles')) as Omit<ClusterFacts, 'databases'> & { databases: string[] };
  const databases: ClusterFacts['databases'] = [];
  for (const name of shared.databases) {
    const facts = JSON.parse(await sqlIn(ctx, container, superuser, name, databaseFactsSql, `reading the functions of database ${name}`)) as Omit<ClusterFacts['databases'][number], 'name'>;
    databases.push({ name, ...facts });
  }
  // The state piece's own role (the owner) is the template's too, whether or not a secret names it
  // (not when it is the fallback, the bootstrap superuser's name: that one is judged as the superuser).
  const bootstrapName = shared.roles.find((r) => r.oid === 10)?.name;
  const declared = [...new Set([...declaredRoles(block, service), ...(anyRole !== bootstrapName ? [anyRole] : [])])];
  const judged = judgeCluster({ ...shared, databases }, declared);
  if (judged.refusals.length > 0 || !judged.superuser) {
    throw new TenantctlError('usage', `backup ${backup} is unusable: the restored cluster holds what a tenant's own cannot (${judged.refusals.join('; ')}); nothing of it was let in`);
  }
  const present = new Set(shared.roles.map((r) => r.name));
  const statements = [
    `ALTER ROLE ${ident(judged.superuser)} PASSWORD NULL;`,
    ...declared.filter((r) => present.has(r)).map((r) => `ALTER ROLE ${ident(r)} NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION;`),
  ];
  await sqlIn(ctx, container, superuser, 'postgres', `BEGIN; ${statements.join(' ')} COMMIT;`, 'settling the restored cluster\'s roles');
}

/** The live pg_hba.conf back in the restored data directory (it was its `local` lines until now), reloaded. */
export async function openRestoredHba(ctx: Context, container: string, anyRole: string, dataDir: string): Promise<void> {
  await execIn(ctx.dockerHost, container, ['sh', '-c', `cd "$TENANTCTL_PGDATA" && if [ -f ${heldHbaFile} ]; then cat ${heldHbaFile} > pg_hba.conf && rm -f ${heldHbaFile}; fi`], {
    env: { TENANTCTL_PGDATA: dataDir }, signal: ctx.signal, what: 'putting the tenant\'s pg_hba.conf back',
  });
  const superuser = await postgresSuperuser(ctx.dockerHost, container, anyRole, ctx.signal);
  await sqlIn(ctx, container, superuser, 'postgres', 'SELECT pg_catalog.pg_reload_conf()', 'reloading the restored server\'s settings');
}

/** The database service alone started (its port may still be held for a moment by the stopped one). */
export async function startServiceAlone(ctx: Context, runtime: TenantRuntime, service: string): Promise<void> {
  await retryUntilDeadline(async () => {
    try {
      await runtime.start([service], { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
      return done(undefined);
    } catch (error) {
      if (error instanceof TenantctlError && /port is already allocated/i.test(error.message)) return notYet(error.message);
      throw error;
    }
  }, {
    what: `starting the ${service} service alone`, deadlineMs: 30_000, clock: ctx.clock, signal: ctx.signal, initialDelayMs: 250,
    onDeadline: (why) => new TenantctlError('docker', why),
  });
}

/** A role name as an SQL identifier (always quoted). */
export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
