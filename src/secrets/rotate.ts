import { readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { composeStartTimeoutMs, composeUpGraceMs } from '../common/timeouts.js';
import { composeVerb } from '../stack/day2.js';
import { withPostgresLogin } from '../stack/probes.js';
import { recordAudit } from '../audit/write.js';
import { parseTenantId } from '../tenants/input.js';
import { holdTenant } from '../tenants/hold.js';
import { LostLockError } from '../admin-db/database.js';
import { writeTenantFiles } from '../tenants/files.js';
import { requireComposeFile, requireTenantFor, servicesOf, tenantSecretsFor, type Day2Target } from '../tenants/day2-target.js';
import { readyTargetOf, waitForTenantReady } from '../tenants/wait-ready.js';
import { execIn, requireRunning, stackContainer } from '../backups/containers.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { generateSecret, type TenantSecrets } from './generate.js';
import { openSecretBox, type SecretBox } from './master-key.js';
import { storeTenantSecretsIn } from './sealed-store.js';
import { refuseOnSwarm } from '../stack/swarm-stack.js';

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

/** What the journal holds of a rotation: the values sealed (never in clear), what changes, who is recreated. */
export interface RotationIntent {
  kinds: SecretKind[];
  recreate: string[];
  sealedOld: string;
  sealedNew: string;
}

const purposeOf = (id: string, which: 'old' | 'new') => `tenant-secrets-rotation:${id}:${which}`;
const rotationSteps = ['begun', 'applied', 'files-written', 'recreated', 'proven'] as const;
type RotationStep = (typeof rotationSteps)[number];

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
  const release = await holdTenant(ctx, id);
  try {
    const t = await requireTenantFor(ctx, id, 'have its secrets rotated (its services must run)', ['active']);
    const rendered = await requireComposeFile(t);
    const old = await tenantSecretsFor(ctx, db, t);
    const fresh: TenantSecrets = { ...old };
    for (const kind of kinds) fresh[secretOf[kind]] = generateSecret();
    const recreate = servicesOf(rendered).filter((service) => kinds.some((k) => readers[k].includes(service)));
    const journal = new OperationJournal(db);
    ctx.reporter.step(`sealing the old and the new secrets of ${id} in the operation journal`);
    const op = await journal.begin<RotationIntent>({
      tenant: id, verb: 'rotate-secrets', host: ctx.dockerHost.id,
      data: { kinds, recreate, sealedOld: box.seal(JSON.stringify(old), purposeOf(id, 'old')), sealedNew: box.seal(JSON.stringify(fresh), purposeOf(id, 'new')) },
    });
    try {
      await ctx.pause('rotate:begun');
      await putInPlace(ctx, t, rendered, op, { to: fresh, from: old }, async (step) => {
        await journal.step(op, step);
        await ctx.pause(`rotate:${step}`);
      });
      await commitRotation(ctx, journal, op, box, fresh);
    } catch (error) {
      throw await undoAfterFailure(ctx, journal, op, box, error);
    }
    return { id, rotated: kinds.map((k) => secretOf[k]), recreated: recreate, durationMs: ctx.clock.now() - started };
  } finally {
    await release();
  }
}

/**
 * The values `to` put where they live, in order: the running servers (authenticating to Redis with
 * `from`, or `to` when a run got that far), the files, the services that read them (recreated),
 * then readiness proven with them. `record` hears each step as its effect is done (the undo passes
 * none: it is not journaled step by step, it runs whole).
 */
async function putInPlace(
  c: Context, t: Day2Target, rendered: string, op: Operation<RotationIntent>,
  { to, from }: { to: TenantSecrets; from: TenantSecrets },
  record: (step: RotationStep) => Promise<void> = async () => {},
): Promise<void> {
  const id = t.record.id;
  const { kinds, recreate } = op.data;
  const dbContainer = await requireRunning(c.dockerHost, t.record.composeProject, 'db', id, c.signal);
  for (const kind of ['db', 'app-db'] as const) {
    if (!kinds.includes(kind)) continue;
    c.reporter.step(`setting the password of ${kind === 'db' ? 'tenant_owner' : 'tenant_app'} in the running PostgreSQL`);
    await alterRole(c, dbContainer.id, kind === 'db' ? 'tenant_owner' : 'tenant_app', to[secretOf[kind]]);
  }
  if (kinds.includes('redis')) {
    c.reporter.step('setting the Redis password (CONFIG SET requirepass)');
    const redis = await stackContainer(c.dockerHost, t.record.composeProject, 'redis', c.signal);
    if (redis?.running) {
      // Whichever of the two it has now: a killed run may have set the other already.
      await setRedisPassword(c, redis.id, from.REDIS_PASSWORD, to.REDIS_PASSWORD)
        .catch(() => setRedisPassword(c, redis.id, to.REDIS_PASSWORD, to.REDIS_PASSWORD));
    } else if (!recreate.includes('redis')) {
      throw new TenantctlError('conflict', `the redis container of ${id} is not running`);
    } // else: it starts with the files written below, recreated
  }
  await record('applied');
  c.reporter.step(`writing the secrets to ${t.paths.dir}/`);
  const manifest = await readFile(t.paths.manifestFile, 'utf8').catch(() => '');
  await writeTenantFiles(t.paths, { compose: rendered, manifest, secrets: to, project: t.record.composeProject });
  await record('files-written');
  if (recreate.length > 0) {
    c.reporter.step(`recreating ${recreate.join(', ')} with them`);
    await composeVerb(c.dockerHost, t.target, ['up', '-d', '--no-deps', '--force-recreate', ...recreate], {
      timeoutMs: c.config.healthDeadlineSeconds * 1000 + composeUpGraceMs, signal: c.signal, onProgress: c.reporter.detail,
    });
  }
  await record('recreated');
  c.reporter.step('proving readiness with them');
  await proveReady(c, t, rendered, to);
  await record('proven');
}

/** The new values are proven: the sealed copy becomes them in the transaction that closes the journal. */
async function commitRotation(ctx: Context, journal: OperationJournal, op: Operation<RotationIntent>, box: SecretBox, fresh: TenantSecrets): Promise<void> {
  const db = journal.db;
  const rotated = op.data.kinds.map((k) => secretOf[k]);
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
  const rendered = await requireComposeFile(t);
  // The servers must run to take the old values back (an operator, or a crash, may have stopped them).
  await composeVerb(ctx.dockerHost, t.target, ['start'], { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
  await putInPlace(ctx, t, rendered, op, { to: old, from: fresh });
  const db = journal.db;
  const rotated = op.data.kinds.map((k) => secretOf[k]);
  await journal.finish(op, 'undone', reason, (client) => recordAudit(db, client, id, 'secrets.rotation-failed', { names: rotated }, { reason: reason.slice(0, 500), restored: 'the old secrets, proven to work' }));
}

function openValues(op: Operation<RotationIntent>, box: SecretBox): { old: TenantSecrets; fresh: TenantSecrets } {
  return {
    old: JSON.parse(box.open(op.data.sealedOld, purposeOf(op.tenant, 'old'))) as TenantSecrets,
    fresh: JSON.parse(box.open(op.data.sealedNew, purposeOf(op.tenant, 'new'))) as TenantSecrets,
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
    return 'finished';
  }
  await undoRotation(ctx, journal, op, box, reason);
  return 'undone';
}

/**
 * ALTER ROLE ... PASSWORD in the running server, as tenant_owner over the local socket (the image
 * trusts it, so it works whichever password the role has now). The value reaches psql through its
 * environment (`\getenv`, psql 15), never its command line.
 */
async function alterRole(ctx: Context, container: string, role: 'tenant_owner' | 'tenant_app', password: string): Promise<void> {
  const script = `printf '%s\\n' '\\getenv pw TENANTCTL_NEW_SECRET' "ALTER ROLE ${role} PASSWORD :'pw';" | psql -X -q -v ON_ERROR_STOP=1 -U tenant_owner -d tenant`;
  await execIn(ctx.dockerHost, container, ['sh', '-c', script], { env: { TENANTCTL_NEW_SECRET: password }, signal: ctx.signal, what: `ALTER ROLE ${role}` });
}

/** CONFIG SET requirepass, authenticated with `auth`; the new value is redis-cli's stdin (-x), never its command line. */
async function setRedisPassword(ctx: Context, container: string, auth: string, password: string): Promise<void> {
  const out = await execIn(ctx.dockerHost, container, ['sh', '-c', 'printf %s "$TENANTCTL_NEW_SECRET" | redis-cli --no-auth-warning -x CONFIG SET requirepass'], {
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
