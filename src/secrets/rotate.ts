import type { Context } from '../context.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { parseTenantId } from '../tenants/input.js';
import { holdTenant } from '../tenants/hold.js';
import { LostLockError } from '../admin-db/database.js';
import { writeSecretFiles } from './env-file.js';
import { secretCopiesOf, secretReferenceName } from '../templates/secret-copies.js';
import { requireComposeFile, requireTenantFor, servicesOf, tenantNamedSecretsFor, type Day2Target } from '../tenants/day2-target.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { tenantValuesOf } from '../backups/tenant-state.js';
import type { Template } from '../templates/template.js';
import type { SecretApplier, TemplateBlock } from '../templates/block-schema.js';
import { fillBlockText, templateValues } from '../templates/values.js';
import { hostValuesOf } from '../templates/configured.js';
import { parse } from 'yaml';
import { whileStarting } from './while-starting.js';
import { reapOrphans } from '../stack/orphans.js';
import { readyTargetOf, waitForTenantReady } from '../tenants/wait-ready.js';
import { execIn, postgresSuperuser, requireRunning, stackContainer } from '../backups/containers.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { generateSecrets, type NamedSecrets } from './generate.js';
import { openSecretBox, type SecretBox } from './master-key.js';
import { storeTenantSecretsIn } from './sealed-store.js';
import { scramSha256Verifier } from './scram.js';
import { rotationSite, swarmSecretVersions, type RotationSite, type SwarmSecretVersions } from './rotation-site.js';

// `tenantctl rotate-secrets <id> [--only db|app-db|redis|jwt]`, under the tenant's lock, journaled:
//   begun           the old and the new values sealed under the master key in the journal, before
//                   any is applied: whatever happens next, both are known
//   applied         the new ones where they live: the running PostgreSQL (ALTER ROLE: an existing
//                   data directory ignores POSTGRES_PASSWORD) and Redis (CONFIG SET requirepass)
//   files-written   customers/<id>/ (what compose hands the containers)
//   recreated       only the services that read a changed secret
//   proven          readiness with the new values (the app's role and Redis by provision's probes,
//                   tenant_owner by a login)
// then the commit: the sealed copy in admin_customers becomes the new values in the same transaction
// that closes the journal. Any failure before it puts the old values back everywhere and proves
// them; a run killed on the way is settled by the next command on the tenant: undone before
// 'proven', committed from it. New values never appear on a command line (`ps`): they travel in the
// docker CLI's environment (`docker exec -e NAME`) and reach psql and redis-cli on their stdin.
// A tenant on a swarm takes the same steps (rotation-site.ts): 'recreated' is its stack deployed
// again naming new secret objects (<project>_<KEY>_v<N>, swarm secrets being immutable), and the
// objects no service reads any more are removed once one side is proven (committed or undone).

/** crm's short names for its secrets (--only db,redis), kept for scripts written against them. */
const crmAliases: Record<string, string> = { db: 'DB_PASSWORD', 'app-db': 'APP_DB_PASSWORD', redis: 'REDIS_PASSWORD', jwt: 'JWT_SECRET' };

export interface RotateResult {
  id: string;
  /** The secrets replaced (names only). */
  rotated: string[];
  /** Services recreated to pick them up. */
  recreated: string[];
  durationMs: number;
}

/** What the journal holds of a rotation: the values sealed (never in clear), what changes, who is recreated. */
export interface RotationIntent {
  secrets: string[];
  recreate: string[];
  sealedOld: string;
  sealedNew: string;
  /** A swarm tenant's secret objects, before and after (names only). */
  swarm?: SwarmSecretVersions;
}

const purposeOf = (id: string, which: 'old' | 'new') => `tenant-secrets-rotation:${id}:${which}`;
const rotationSteps = ['begun', 'applied', 'files-written', 'recreated', 'proven'] as const;
type RotationStep = (typeof rotationSteps)[number];

/**
 * --only: secret names of the tenant's template (comma-separated), or crm's short names (db,
 * app-db, redis, jwt); default every secret. Anything else is exit 2, naming the template's.
 */
export function parseOnly(raw: unknown, declared: readonly string[]): string[] {
  if (raw === undefined) return [...declared];
  const values = String(raw).split(',').map((s) => s.trim()).filter(Boolean).map((v) => crmAliases[v] && declared.includes(crmAliases[v]!) ? crmAliases[v]! : v);
  const bad = values.filter((v) => !declared.includes(v));
  if (values.length === 0 || bad.length > 0) throw usageError(`--only ${JSON.stringify(String(raw))}: expected secrets of the tenant's template: ${declared.join(', ')} (or several, comma-separated)`);
  return [...new Set(values)];
}

/** Services that read a secret from its file (its compose `secrets:`), and so are recreated to get a new value. */
function mountersOf(rendered: string, secret: string, running: readonly string[]): string[] {
  const services = ((parse(rendered, { merge: true, maxAliasCount: -1 }) ?? {}) as { services?: Record<string, { secrets?: unknown[] }> }).services ?? {};
  return running.filter((service) => (services[service]?.secrets ?? []).some((entry) => secretReferenceName(entry) === secret));
}

/**
 * What rotating `secrets` takes, from the template: each one's applier (where a server holds the
 * value itself) and the services to recreate (every one that mounts a changed secret, except a
 * PostgreSQL server for its roles' passwords: it reads the file only at its first start).
 */
export function rotationPlan(block: TemplateBlock, rendered: string, running: readonly string[], secrets: readonly string[]): { recreate: string[]; appliers: Array<{ secret: string; applies: SecretApplier }> } {
  const recreate = new Set<string>();
  const appliers: Array<{ secret: string; applies: SecretApplier }> = [];
  const postgresServers = new Set(Object.values(block.state).flatMap((piece) => ('postgres' in piece ? [piece.postgres.service] : [])));
  for (const secret of secrets) {
    const applies = block.secrets[secret]?.applies;
    // A PostgreSQL server reads a secret file only at its first start: recreating it changes nothing
    // for an existing data directory, and the files would then hold a password the server refuses.
    const readOnce = applies ? [] : mountersOf(rendered, secret, running).filter((service) => postgresServers.has(service));
    if (readOnce.length > 0) {
      throw usageError(`${secret} cannot be rotated: ${readOnce.join(', ')} holds PostgreSQL state and reads it only at its first start; declare how a new value reaches it (x-tenantctl.secrets.${secret}.applies.postgresRole); nothing was changed`);
    }
    const server = applies && 'postgresRole' in applies ? applies.postgresRole.service : undefined;
    if (applies && running.includes('postgresRole' in applies ? applies.postgresRole.service : applies.redisPassword.service)) appliers.push({ secret, applies });
    for (const service of mountersOf(rendered, secret, running)) if (service !== server) recreate.add(service);
  }
  return { recreate: running.filter((s) => recreate.has(s)), appliers };
}

export async function rotateSecrets(ctx: Context, input: { id: unknown; only?: unknown }): Promise<RotateResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(input.id);
  const db = await ctx.adminDb();
  const box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: false });
  const release = await holdTenant(ctx, id);
  try {
    const t = await requireTenantFor(ctx, id, 'have its secrets rotated (its services must run)', ['active']);
    const rendered = await requireComposeFile(t);
    const template = await loadTenantTemplate(ctx, t.record);
    const declared = Object.keys(template.block.secrets);
    const names = parseOnly(input.only, declared);
    const old = await tenantNamedSecretsFor(ctx, db, t, declared);
    const fresh: NamedSecrets = { ...old, ...generateSecrets(Object.fromEntries(names.map((n) => [n, template.block.secrets[n]!]))) };
    const running = servicesOf(rendered, t.record.profiles);
    const swarm = ctx.dockerHost.kind === 'swarm' ? await swarmSecretVersions(ctx, t.record.composeProject, names) : undefined;
    // On a swarm every service that reads a rotated secret gets a new task (its spec names the new object).
    const recreate = swarm ? running.filter((service) => names.some((name) => mountersOf(rendered, name, running).includes(service))) : rotationPlan(template.block, rendered, running, names).recreate;
    if (swarm) rotationPlan(template.block, rendered, running, names); // its refusals hold on a swarm too
    const journal = new OperationJournal(db);
    ctx.reporter.step(`sealing the old and the new secrets of ${id} in the operation journal`);
    const op = await journal.begin<RotationIntent>({
      tenant: id, verb: 'rotate-secrets', host: ctx.dockerHost.id,
      data: { secrets: names, recreate, sealedOld: box.seal(JSON.stringify(old), purposeOf(id, 'old')), sealedNew: box.seal(JSON.stringify(fresh), purposeOf(id, 'new')), ...(swarm ? { swarm } : {}) },
    });
    try {
      await ctx.pause('rotate:begun');
      const site = await rotationSite(ctx, t, op.data.swarm);
      await putInPlace(ctx, site, t, rendered, template, op, { to: fresh, from: old, names: 'to' }, async (step) => {
        await journal.step(op, step);
        await ctx.pause(`rotate:${step}`);
      });
      await commitRotation(ctx, journal, op, box, fresh);
      await pruneAfter(ctx, site, 'the old secret objects');
    } catch (error) {
      throw await undoAfterFailure(ctx, journal, op, box, error);
    }
    return { id, rotated: names, recreated: recreate, durationMs: ctx.clock.now() - started };
  } finally {
    await release();
  }
}

/**
 * The values `to` put where they live, in order: the servers that hold a copy (authenticating to
 * Redis with `from`, or `to` when a run got that far), the files, the services that read them
 * (recreated), then readiness proven with them. `record` hears each step as its effect is done
 * (the undo passes none: it is not journaled step by step, it runs whole).
 */
async function putInPlace(
  c: Context, site: RotationSite, t: Day2Target, rendered: string, template: Template, op: Operation<RotationIntent>,
  { to, from, names }: { to: NamedSecrets; from: NamedSecrets; names: 'from' | 'to' },
  record: (step: RotationStep) => Promise<void> = async () => {},
): Promise<void> {
  const id = t.record.id;
  const { recreate } = op.data;
  const { appliers } = rotationPlan(template.block, rendered, servicesOf(rendered, t.record.profiles), op.data.secrets);
  const pieces = template.block.state;
  // What is done inside the containers goes to the engine holding them (a swarm tenant's node);
  // a redeploy goes to the caller's (the manager).
  const manager = c;
  c = { ...site.containers, signal: c.signal, pause: c.pause };
  const wait = { clock: c.clock, signal: c.signal, deadlineMs: c.config.healthDeadlineSeconds * 1000 };
  for (const { secret, applies } of appliers) {
    if ('postgresRole' in applies) {
      const { service, role } = applies.postgresRole;
      c.reporter.step(`setting the password of ${role} in the running PostgreSQL of ${service}`);
      await whileStarting(site.kind, wait, `setting the password of ${role}`, async () => {
        const server = await requireRunning(c.dockerHost, t.record.composeProject, service, id, c.signal);
        await alterRole(c, server.id, ownerOf(pieces, service), role, to[secret]!);
      });
    } else {
      const { service } = applies.redisPassword;
      c.reporter.step(`setting the Redis password of ${service} (CONFIG SET requirepass)`);
      if (site.kind === 'swarm') {
        // Its task may be being replaced (an undo after a killed run): the container is looked up
        // again on each try, and one gone or not yet running is waited for.
        await whileStarting(site.kind, wait, `setting the Redis password of ${service}`, async () => {
          const redis = await requireRunning(c.dockerHost, t.record.composeProject, service, id, c.signal);
          await setRedisEither(c, redis.id, from[secret]!, to[secret]!);
        });
        continue;
      }
      const redis = await stackContainer(c.dockerHost, t.record.composeProject, service, c.signal);
      if (redis?.running) {
        await setRedisEither(c, redis.id, from[secret]!, to[secret]!);
      } else if (!recreate.includes(service)) {
        throw new TenantctlError('conflict', `the ${service} container of ${id} is not running`);
      } // else: it starts with the files written below, recreated
    }
  }
  await record('applied');
  c.reporter.step(`writing the secrets to ${t.paths.dir}/`);
  // Only the secret files, rewritten in place (the running containers' bind mounts see them); the
  // compose file, .env and the template's initdb/ are provision's and stay as they are. Each
  // service user's copy (what a non-root service mounts) is rewritten in place with them.
  await writeSecretFiles(t.paths.secretsDir, to, secretCopiesOf(rendered), { prune: true }); // the compose file stays: its copies are all that is kept
  await record('files-written');
  await site.reload(manager, recreate, names);
  await record('recreated');
  c.reporter.step('proving readiness with them');
  await proveReady(c, t, rendered, template, appliers, to);
  await record('proven');
}

/** The role a PostgreSQL server's state piece is owned by: a role to reach the server as over the local socket (and ask it for its superuser). */
function ownerOf(state: TemplateBlock['state'], service: string): string {
  for (const piece of Object.values(state)) if ('postgres' in piece && piece.postgres.service === service) return piece.postgres.user;
  throw new TenantctlError('usage', `service ${service} has no postgres piece under x-tenantctl.state`);
}

/** The new values are proven: the sealed copy becomes them in the transaction that closes the journal. */
async function commitRotation(ctx: Context, journal: OperationJournal, op: Operation<RotationIntent>, box: SecretBox, fresh: NamedSecrets): Promise<void> {
  const db = journal.db;
  const rotated = op.data.secrets;
  await journal.finish(op, 'completed', null, async (client) => {
    await storeTenantSecretsIn(db, client, box, op.tenant, fresh);
    await recordAudit(db, client, op.tenant, 'secrets.rotated', { names: rotated }, { names: rotated, recreated: op.data.recreate, key: box.fingerprint });
  });
}

/** The old values back everywhere (servers, files, recreated services), proven to work; the journal closed as undone. */
async function undoRotation(ctx: Context, journal: OperationJournal, op: Operation<RotationIntent>, box: SecretBox, reason: string): Promise<void> {
  const id = op.tenant;
  const { old, fresh } = openValues(op, box);
  const t = await requireTenantFor(ctx, id, 'have its old secrets put back', ['active']);
  // A killed run's deploy (docker stack deploy naming the new versions) may still be running:
  // ended before anything here touches the stack, so it cannot land after the undo.
  await reapOrphans(ctx.dockerHost, t.record.composeProject, ctx.reporter.detail);
  const rendered = await requireComposeFile(t);
  const template = await loadTenantTemplate(ctx, t.record);
  const site = await rotationSite(ctx, t, op.data.swarm);
  // The servers must run to take the old values back (an operator, or a crash, may have stopped them).
  await site.startAll(ctx);
  await putInPlace(ctx, site, t, rendered, template, op, { to: old, from: fresh, names: 'from' });
  const db = journal.db;
  const rotated = op.data.secrets;
  await journal.finish(op, 'undone', reason, (client) => recordAudit(db, client, id, 'secrets.rotation-failed', { names: rotated }, { reason: reason.slice(0, 500), restored: 'the old secrets, proven to work' }));
  await pruneAfter(ctx, site, 'the new secret objects of the undone rotation');
}

/**
 * Once a side is proven and recorded: the secret objects no service reads any more removed (a
 * swarm's; nothing for compose). A failure is said, not fatal: the tenant runs on the proven side,
 * and what is left goes at the next rotation's prune or with the stack.
 */
async function pruneAfter(ctx: Context, site: RotationSite, what: string): Promise<void> {
  await site.prune({ ...ctx, signal: new AbortController().signal }).then(
    (removed) => removed.length > 0 && ctx.reporter.info(`removed ${what}: ${removed.join(', ')}`),
    (problem) => ctx.reporter.info(`removing ${what} failed: ${messageOf(problem)} (they go at the next rotation, or with the stack)`),
  );
}

function openValues(op: Operation<RotationIntent>, box: SecretBox): { old: NamedSecrets; fresh: NamedSecrets } {
  return {
    old: JSON.parse(box.open(op.data.sealedOld, purposeOf(op.tenant, 'old'))) as NamedSecrets,
    fresh: JSON.parse(box.open(op.data.sealedNew, purposeOf(op.tenant, 'new'))) as NamedSecrets,
  };
}

/**
 * The failing run puts the old values back (even after Ctrl-C: with a signal of its own) and says
 * so; a lost lock changes nothing more (the next command settles the journal). The error keeps
 * its first cause.
 */
async function undoAfterFailure(ctx: Context, journal: OperationJournal, op: Operation<RotationIntent>, box: SecretBox, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  // Only under a lock still ours: another tenantctl may be working on the tenant now.
  if (first instanceof LostLockError || (await journal.db.locksProven())) {
    first.details.push(`the rotation stopped at step ${op.step}; both the old and the new values are sealed in its journal, and the next command on ${op.tenant} puts the old ones back`);
    return first;
  }
  const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
  try {
    // Past 'proven' the new values are the ones that work: committed, never undone.
    const outcome = await resumeRotation(quiet, op, first.message);
    first.details.push(outcome === 'finished'
      ? 'the new secrets had been proven to work: the rotation was committed'
      : 'the old secrets were put back everywhere and proven to work (readiness and logins with them)');
  } catch (problem) {
    first.details.push(`putting the old secrets back failed too: ${messageOf(problem)}; both values are sealed in the journal (step ${op.step}): the next command on ${op.tenant}, or tenantctl doctor --fix, tries again`);
  }
  return first;
}

/** Settles a rotation a killed run left: committed when its new values were proven, else the old ones put back. */
export async function resumeRotation(ctx: Context, op: Operation<RotationIntent>, reason = `interrupted at step ${op.step}; undone by a later command`): Promise<'finished' | 'undone'> {
  const db = await ctx.adminDb();
  const box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: false });
  const journal = new OperationJournal(db);
  if (op.step === 'proven') {
    await commitRotation(ctx, journal, op, box, openValues(op, box).fresh);
    if (op.data.swarm) await pruneAfter(ctx, await rotationSite(ctx, await requireTenantFor(ctx, op.tenant, 'have its old secret objects removed', ['active']), op.data.swarm), 'the old secret objects');
    return 'finished';
  }
  await undoRotation(ctx, journal, op, box, reason);
  return 'undone';
}

/**
 * ALTER ROLE ... PASSWORD in the running server, as its superuser over the local socket (the
 * image trusts it, so it works whichever password the role has now). What the server gets is the
 * SCRAM verifier computed here (scram.ts), never the password, so a failing statement in its log
 * holds no password; the role is looked up first so the common failure (no such role) never
 * reaches ALTER ROLE. The verifier reaches psql through its environment (`\\getenv`, psql 15),
 * never its command line.
 */
async function alterRole(ctx: Context, container: string, pieceOwner: string, role: string, password: string): Promise<void> {
  // The server's superuser: the owner role of a template's database is not one (backups/containers.ts).
  const owner = await postgresSuperuser(ctx.dockerHost, container, pieceOwner, ctx.signal);
  const present = await execIn(ctx.dockerHost, container, ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', owner, '-d', 'postgres', '-c', `SELECT 1 FROM pg_roles WHERE rolname = '${role}'`], {
    signal: ctx.signal, what: `looking up role ${role}`,
  });
  if (present.trim() !== '1') throw new TenantctlError('usage', `the PostgreSQL server of ${container} has no role ${role} (x-tenantctl secrets applies.postgresRole.role); nothing of it was changed`);
  const script = `printf '%s\\n' '\\getenv pw TENANTCTL_NEW_SECRET' "ALTER ROLE \\"${role}\\" PASSWORD :'pw';" | psql -X -q -v ON_ERROR_STOP=1 -U "$TENANTCTL_OWNER" -d postgres`;
  await execIn(ctx.dockerHost, container, ['sh', '-c', script], { env: { TENANTCTL_NEW_SECRET: scramSha256Verifier(password), TENANTCTL_OWNER: owner }, signal: ctx.signal, what: `ALTER ROLE ${role}` });
}

/** The new Redis password set, authenticating with whichever of the two it has now: a killed run may have set the other already. */
async function setRedisEither(ctx: Context, container: string, from: string, to: string): Promise<void> {
  await setRedisPassword(ctx, container, from, to).catch(() => setRedisPassword(ctx, container, to, to));
}

/** CONFIG SET requirepass, authenticated with `auth`; the new value is redis-cli's stdin (-x), never its command line. */
async function setRedisPassword(ctx: Context, container: string, auth: string, password: string): Promise<void> {
  const out = await execIn(ctx.dockerHost, container, ['sh', '-c', 'printf %s "$TENANTCTL_NEW_SECRET" | redis-cli --no-auth-warning -x CONFIG SET requirepass'], {
    env: { REDISCLI_AUTH: auth, TENANTCTL_NEW_SECRET: password }, signal: ctx.signal, what: 'redis-cli CONFIG SET requirepass',
  });
  if (!/^OK/m.test(out)) throw new TenantctlError('docker', `Redis refused CONFIG SET requirepass: ${out.trim().slice(0, 200)}`);
}

/**
 * Readiness by the template's probes with `secrets`, and a login as each PostgreSQL role whose
 * password changed, over TCP inside its server's container (its password in the environment of
 * docker exec, never a command line), so a role no probe uses is proven too.
 */
async function proveReady(ctx: Context, t: Day2Target, rendered: string, template: Template, appliers: Array<{ secret: string; applies: SecretApplier }>, secrets: NamedSecrets): Promise<void> {
  await waitForTenantReady(ctx, await readyTargetOf(ctx, t.record, rendered, secrets));
  const values = await tenantValuesOf(await ctx.adminDb(), t.record);
  for (const { secret, applies } of appliers) {
    if (!('postgresRole' in applies)) continue;
    const { service, role } = applies.postgresRole;
    const database = databaseOf(ctx, template, service, values);
    const server = await requireRunning(ctx.dockerHost, t.record.composeProject, service, t.record.id, ctx.signal);
    await execIn(ctx.dockerHost, server.id, ['psql', '-X', '-q', '-h', '127.0.0.1', '-U', role, '-d', database, '-c', 'SELECT 1'], {
      env: { PGPASSWORD: secrets[secret]! }, signal: ctx.signal, what: `a login as ${role} with its new password`,
    });
  }
}

/** The database of a PostgreSQL server's state piece, rendered for the tenant. */
function databaseOf(ctx: Context, template: Template, service: string, values: Parameters<typeof templateValues>[1]): string {
  for (const piece of Object.values(template.block.state)) {
    if ('postgres' in piece && piece.postgres.service === service) return fillBlockText(piece.postgres.database, templateValues(template, values, hostValuesOf(ctx.config)));
  }
  return 'postgres';
}
