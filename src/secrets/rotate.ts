import { readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { composeUpGraceMs } from '../common/timeouts.js';
import { composeVerb } from '../stack/day2.js';
import { withPostgresLogin } from '../stack/probes.js';
import { recordAudit } from '../audit/write.js';
import { parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { writeTenantFiles } from '../tenants/files.js';
import { requireComposeFile, requireTenantFor, servicesOf, tenantSecretsFor, type Day2Target } from '../tenants/day2-target.js';
import { readyTargetOf, waitForTenantReady } from '../tenants/wait-ready.js';
import { execIn, requireRunning } from '../backups/containers.js';
import { generateSecret, type TenantSecrets } from './generate.js';
import { openSecretBox } from './master-key.js';
import { storeTenantSecrets } from './sealed-store.js';
import { refuseOnSwarm } from '../stack/swarm-stack.js';

// `tenantctl rotate-secrets <id> [--only db|app-db|redis|jwt]`: new values applied where they live,
// in this order: the running PostgreSQL (ALTER ROLE: an existing data directory ignores
// POSTGRES_PASSWORD) and Redis (CONFIG SET requirepass), then the tenant's files (what compose
// hands the containers) and the sealed copy in the admin database; then only the services that
// read a changed secret are recreated, and readiness is proven with the new values (the app's role
// and Redis by the usual probes, tenant_owner by a login). On any failure every applied change is
// undone with the old values, which are then proven to work the same way. The audit row names the
// secrets, never their values. New values never appear on a command line: they travel in the docker
// CLI's environment (`docker exec -e NAME`).

export type SecretKind = 'db' | 'app-db' | 'redis' | 'jwt';
export const secretKinds: readonly SecretKind[] = ['db', 'app-db', 'redis', 'jwt'];
const secretOf = { db: 'DB_PASSWORD', 'app-db': 'APP_DB_PASSWORD', redis: 'REDIS_PASSWORD', jwt: 'JWT_SECRET' } as const satisfies Record<SecretKind, keyof TenantSecrets>;
/** Who reads each secret and must be recreated to get a new one (the database's own passwords live in the server). */
const readers: Record<SecretKind, string[]> = { db: [], 'app-db': ['app', 'worker'], redis: ['redis', 'app', 'worker'], jwt: ['app', 'worker'] };

export interface RotateResult {
  id: string;
  /** The secrets replaced (names only). */
  rotated: string[];
  /** Services recreated to pick them up. */
  recreated: string[];
  durationMs: number;
}

export function parseOnly(raw: unknown): SecretKind[] {
  if (raw === undefined) return [...secretKinds];
  const values = String(raw).split(',').map((s) => s.trim()).filter(Boolean);
  const bad = values.filter((v) => !secretKinds.includes(v as SecretKind));
  if (values.length === 0 || bad.length > 0) throw usageError(`--only ${JSON.stringify(String(raw))}: expected ${secretKinds.join(', ')} (or several, comma-separated)`);
  return [...new Set(values as SecretKind[])];
}

export async function rotateSecrets(ctx: Context, input: { id: unknown; only?: unknown }): Promise<RotateResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(input.id);
  refuseOnSwarm(ctx.dockerHost, 'rotate-secrets (swarm secrets are immutable)');
  const kinds = parseOnly(input.only);
  const db = await ctx.adminDb();
  const box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: false });
  const unlock = await new TenantRegistry(db).lock(id);
  try {
    const t = await requireTenantFor(ctx, id, 'have its secrets rotated (its services must run)', ['active']);
    const rendered = await requireComposeFile(t);
    const manifest = await readFile(t.paths.manifestFile, 'utf8').catch(() => '');
    const old = await tenantSecretsFor(ctx, db, t);
    const fresh: TenantSecrets = { ...old };
    for (const kind of kinds) fresh[secretOf[kind]] = generateSecret();
    const present = servicesOf(rendered);
    const recreate = present.filter((service) => kinds.some((k) => readers[k].includes(service)));
    const rotated = kinds.map((k) => secretOf[k]);

    const applied = new Set<'db' | 'app-db' | 'redis' | 'files'>();
    const apply = async (secrets: TenantSecrets, current: TenantSecrets, c: Context, undo: boolean) => {
      const dbContainer = await requireRunning(c.dockerHost, t.record.composeProject, 'db', id, c.signal);
      for (const kind of ['db', 'app-db'] as const) {
        if (!(undo ? applied.has(kind) : kinds.includes(kind))) continue;
        c.reporter.step(`${undo ? 'putting back' : 'setting'} the password of ${kind === 'db' ? 'tenant_owner' : 'tenant_app'} in the running PostgreSQL`);
        await alterRole(c, dbContainer.id, kind === 'db' ? 'tenant_owner' : 'tenant_app', secrets[secretOf[kind]]);
        applied.add(kind);
      }
      if (undo ? applied.has('redis') : kinds.includes('redis')) {
        c.reporter.step(`${undo ? 'putting back' : 'setting'} the Redis password (CONFIG SET requirepass)`);
        const redis = await requireRunning(c.dockerHost, t.record.composeProject, 'redis', id, c.signal).catch(() => undefined);
        // Undoing: a recreated Redis may already run with either value; the files decide at its next start.
        if (redis) {
          await setRedisPassword(c, redis.id, current.REDIS_PASSWORD, secrets.REDIS_PASSWORD).catch(async (error) => {
            if (!undo) throw error;
            await setRedisPassword(c, redis.id, secrets.REDIS_PASSWORD, secrets.REDIS_PASSWORD).catch(() => {});
          });
        } else if (!undo) throw new TenantctlError('conflict', `the redis container of ${id} is not running`);
        applied.add('redis');
      }
      await c.pause('rotate:applied');
      c.reporter.step(`writing the ${undo ? 'old' : 'new'} secrets to ${t.paths.dir}/ and the sealed copy`);
      applied.add('files');
      await writeTenantFiles(t.paths, { compose: rendered, manifest, secrets, project: t.record.composeProject });
      await storeTenantSecrets(db, box, id, secrets);
      if (recreate.length > 0) {
        c.reporter.step(`recreating ${recreate.join(', ')} with the ${undo ? 'old' : 'new'} secrets`);
        await composeVerb(c.dockerHost, t.target, ['up', '-d', '--no-deps', '--force-recreate', ...recreate], {
          timeoutMs: c.config.healthDeadlineSeconds * 1000 + composeUpGraceMs, signal: c.signal, onProgress: c.reporter.detail,
        });
      }
      await c.pause('rotate:recreated');
      c.reporter.step(`proving readiness with the ${undo ? 'old' : 'new'} secrets`);
      await proveReady(c, t, rendered, secrets);
    };

    try {
      await apply(fresh, old, ctx, false);
    } catch (error) {
      // The old values go back wherever a new one was applied, even after Ctrl-C, and must work.
      const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
      const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
      try {
        await apply(old, fresh, quiet, true);
        first.details.push('the old secrets were put back everywhere and proven to work (readiness and logins with them)');
      } catch (problem) {
        first.details.push(`putting the old secrets back failed too: ${messageOf(problem)}; tenantctl secrets ${id} shows what the sealed copy holds`);
      }
      await db.withTransaction((client) => recordAudit(db, client, id, 'secrets.rotation-failed', { names: rotated }, { reason: first.message, restored: first.details.at(-1) }));
      throw first;
    }
    await db.withTransaction((client) => recordAudit(db, client, id, 'secrets.rotated', { names: rotated }, { names: rotated, recreated: recreate, key: box.fingerprint }));
    return { id, rotated, recreated: recreate, durationMs: ctx.clock.now() - started };
  } finally {
    await unlock();
  }
}

/** ALTER ROLE ... PASSWORD in the running server, the value passed in the environment and as a psql variable. */
async function alterRole(ctx: Context, container: string, role: 'tenant_owner' | 'tenant_app', password: string): Promise<void> {
  const script = `printf '%s\\n' "ALTER ROLE ${role} PASSWORD :'pw';" | psql -X -q -v ON_ERROR_STOP=1 -U tenant_owner -d tenant -v pw="$TENANTCTL_NEW_SECRET"`;
  await execIn(ctx.dockerHost, container, ['sh', '-c', script], { env: { TENANTCTL_NEW_SECRET: password }, signal: ctx.signal, what: `ALTER ROLE ${role}` });
}

async function setRedisPassword(ctx: Context, container: string, auth: string, password: string): Promise<void> {
  const out = await execIn(ctx.dockerHost, container, ['sh', '-c', 'redis-cli --no-auth-warning CONFIG SET requirepass "$TENANTCTL_NEW_SECRET"'], {
    env: { REDISCLI_AUTH: auth, TENANTCTL_NEW_SECRET: password }, signal: ctx.signal, what: 'redis-cli CONFIG SET requirepass',
  });
  if (!/^OK/m.test(out)) throw new TenantctlError('docker', `Redis refused CONFIG SET requirepass: ${out.trim().slice(0, 200)}`);
}

/** Readiness by provision's probes (the app's role, Redis AUTH, the app, the worker) and a tenant_owner login, all with `secrets`. */
async function proveReady(ctx: Context, t: Day2Target, rendered: string, secrets: TenantSecrets): Promise<void> {
  await waitForTenantReady(ctx, await readyTargetOf(ctx, t.record, rendered, secrets));
  await withPostgresLogin(
    { host: ctx.dockerHost.probeAddress(ctx.config.bindAddress), port: t.record.ports.db!, user: 'tenant_owner', database: 'tenant', password: secrets.DB_PASSWORD },
    { clock: ctx.clock, deadlineMs: ctx.config.healthDeadlineSeconds * 1000, signal: ctx.signal },
    async (client) => { await client.query('SELECT 1'); },
  );
}
