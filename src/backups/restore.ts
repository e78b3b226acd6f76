import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Context } from '../context.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { composeStartTimeoutMs, composeStopTimeoutMs, dumpRestoreTimeoutMs, portReleaseGraceMs, redisCopyTimeoutMs } from '../common/timeouts.js';
import { dockerFromFile } from '../stack/docker-stream.js';
import { composeVerb } from '../stack/day2.js';
import type { ComposeTarget } from '../stack/compose-argv.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { recordAudit } from '../audit/write.js';
import { listModules, setModule } from '../modules/store.js';
import { parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { requireComposeFile, requireTenantFor, servicesOf, tenantSecretsFor } from '../tenants/day2-target.js';
import { readyTargetOf, waitForTenantReady } from '../tenants/wait-ready.js';
import { psqlIn, requireRunning } from './containers.js';
import { BackupStore } from './store.js';
import { corrupt, dumpFile, manifestFile, redisFile, tenantFile, verifyBackup, type BackupManifest } from './manifest.js';
import { refuseOnSwarm } from '../stack/swarm-stack.js';

// `tenantctl restore <id> --from <backup> [--as <new-id>]`. The backup is verified first (every
// file against its size and SHA-256): a corrupt or truncated one is refused (exit 2) before anything
// is touched. Into the tenant itself: the dump is restored into a scratch database while the tenant
// still runs (a failed pg_restore leaves the tenant as it was), then app and worker stop, the
// scratch database takes the tenant database's place, Redis gets the snapshot, and the stack starts
// and must become ready. A tenant that does not exist (deprovisioned, or --as a new id) is
// provisioned first, with its own new passwords, then restored; if that restore fails, the tenant
// this run provisioned is deprovisioned again.

export interface RestoreResult {
  id: string;
  from: string;
  /** The tenant the backup was made of. */
  source: string;
  /** restored: into the existing tenant; provisioned-and-restored: a new (or re-provisioned) tenant. */
  outcome: 'restored' | 'provisioned-and-restored';
  url: string | null;
  /** Modules switched to the backup's state. */
  modulesChanged: string[];
  /** When this restore provisioned the tenant: its initial API key (API keys are never restored). */
  initialApiKey?: { id: string; prefix: string; key: string };
  durationMs: number;
  /** MB/s of the dump fed to pg_restore (MB = 10^6 bytes). */
  restoreMBps: number;
}

interface TenantDocument {
  /** template: absent in backups made before templates (crm's, the only shape backups are made of). */
  record: { id: string; name: string; plan: string; template?: string };
  modules: Array<{ key: string; enabled: boolean }>;
}

export async function restore(ctx: Context, input: { id: unknown; from: unknown; as?: unknown }): Promise<RestoreResult> {
  const started = ctx.clock.now();
  const source = parseTenantId(input.id);
  refuseOnSwarm(ctx.dockerHost, 'restore');
  const target = input.as === undefined ? source : parseTenantId(input.as);
  if (typeof input.from !== 'string' || input.from.trim() === '') throw usageError('--from <backup> is required: a backup id (tenantctl backups) or a backup folder');
  const db = await ctx.adminDb();

  // 1. The backup, verified before anything else happens.
  const { dir, manifest } = await locateAndVerify(ctx, input.from);
  if (manifest.tenant !== source) throw usageError(`backup ${manifest.id} is of tenant ${manifest.tenant}, not ${source}; use tenantctl restore ${manifest.tenant} --from ${input.from}${input.as === undefined ? ` --as ${source}` : ''}`);
  const document = JSON.parse(await readFile(path.join(dir, tenantFile), 'utf8')) as TenantDocument;

  // 2. Restore into the tenant as it is, or provision it first.
  const registry = new TenantRegistry(db);
  const existing = await registry.get(target);
  let provisioned: Awaited<ReturnType<typeof import('../tenants/provision.js').provision>> | undefined;
  if (existing && !['deprovisioned', 'failed'].includes(existing.status)) {
    if (input.as !== undefined) throw new TenantctlError('conflict', `tenant ${target} exists (${existing.status}); restore --as makes a new tenant: choose an id that is free, or restore ${target} from its own backups`);
    if (existing.status !== 'active') throw new TenantctlError('conflict', `tenant ${target} is ${existing.status}; a restore needs it active (tenantctl start ${target}) or deprovisioned`);
  } else {
    ctx.reporter.step(`provisioning ${target} to restore into`);
    const { provision } = await import('../tenants/provision.js');
    // The backup's own template, whatever templates.default says now: the dump fits only its schema.
    provisioned = await provision(ctx, { id: target, name: input.as === undefined ? document.record.name : target, plan: document.record.plan, template: document.record.template ?? 'crm' });
  }

  try {
    const restored = await restoreInto(ctx, target, dir, manifest, document);
    return {
      id: target,
      from: manifest.id,
      source,
      outcome: provisioned ? 'provisioned-and-restored' : 'restored',
      url: provisioned?.url ?? existing?.appUrl ?? null,
      modulesChanged: restored.modulesChanged,
      initialApiKey: provisioned?.initialApiKey,
      durationMs: ctx.clock.now() - started,
      restoreMBps: restored.restoreMBps,
    };
  } catch (error) {
    if (provisioned) {
      // The tenant exists only for this restore: leave nothing half-made behind.
      ctx.reporter.step(`removing ${target} again (provisioned for this restore)`);
      const { deprovision } = await import('../tenants/deprovision.js');
      await deprovision(ctx, { id: target, confirmed: true }).catch((problem) => {
        if (error instanceof TenantctlError) error.details.push(`removing ${target} again failed: ${messageOf(problem)}; run tenantctl deprovision ${target} --yes`);
      });
    }
    throw error;
  }
}

/** A backup id from `tenantctl backups`, or a backup folder (holding manifest.json). */
async function locateAndVerify(ctx: Context, from: string): Promise<{ dir: string; manifest: BackupManifest }> {
  const store = new BackupStore(await ctx.adminDb());
  const looksLikePath = from.includes('/') || from.startsWith('.');
  if (looksLikePath) {
    const dir = path.resolve(from);
    const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
    if (!isDir) throw usageError(`--from ${from}: no such backup folder`);
    // When the admin database knows it, its manifest must also be the one recorded then.
    const manifestId = await readFile(path.join(dir, manifestFile), 'utf8').then((t) => JSON.parse(t).id as string, () => undefined);
    const record = typeof manifestId === 'string' ? await store.get(manifestId) : undefined;
    ctx.reporter.step(`verifying ${dir} (sizes and SHA-256)`);
    return { dir, manifest: await verifyBackup(dir, record?.manifestSha256) };
  }
  const record = await store.get(from);
  if (!record) throw new TenantctlError('notFound', `no backup ${from} in the admin database (tenantctl backups lists them; a folder path works too)`);
  if (record.state !== 'succeeded') throw corrupt(from, `it is recorded as ${record.state}${record.reason ? ` (${record.reason})` : ''}`);
  ctx.reporter.step(`verifying backup ${from} (sizes and SHA-256)`);
  return { dir: record.directory, manifest: await verifyBackup(record.directory, record.manifestSha256) };
}

async function restoreInto(ctx: Context, id: string, dir: string, manifest: BackupManifest, document: TenantDocument): Promise<{ modulesChanged: string[]; restoreMBps: number }> {
  const db = await ctx.adminDb();
  const unlock = await new TenantRegistry(db).lock(id);
  try {
    const t = await requireTenantFor(ctx, id, 'be restored', ['active']);
    const rendered = await requireComposeFile(t);
    const secrets = await tenantSecretsFor(ctx, db, t);
    const host = ctx.dockerHost;
    const project = t.record.composeProject;
    const dbContainer = await requireRunning(host, project, 'db', id, ctx.signal);
    const redisContainer = await requireRunning(host, project, 'redis', id, ctx.signal);
    const redisVolume = redisContainer.volumes['/data'];
    if (!redisVolume) throw new TenantctlError('conflict', `the redis container of ${id} has no data volume at /data`);
    const q = (database: string, sql: string, what: string) => psqlIn(host, dbContainer.id, database, sql, { what, signal: ctx.signal });

    // 1. Into a scratch database while the tenant runs: if pg_restore fails, nothing was changed.
    const suffix = randomBytes(4).toString('hex');
    const scratch = `tenant_restore_${suffix}`;
    ctx.reporter.step(`restoring the database of ${manifest.id} into a scratch database`);
    await q('template1', `CREATE DATABASE ${scratch} OWNER tenant_owner TEMPLATE template0`, 'creating the scratch database');
    const restoreStarted = ctx.clock.now();
    const restored = await dockerFromFile(host, [
      'exec', '-i', dbContainer.id, 'pg_restore', '-U', 'tenant_owner', '-d', scratch, '--exit-on-error', '--single-transaction', '--no-password',
    ], path.join(dir, dumpFile), { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal }).catch(async (error) => {
      await q('template1', `DROP DATABASE IF EXISTS ${scratch}`, 'dropping the scratch database').catch(() => {});
      throw error;
    });
    if (restored.exitCode !== 0) {
      await q('template1', `DROP DATABASE IF EXISTS ${scratch}`, 'dropping the scratch database').catch(() => {});
      throw new TenantctlError('docker', `pg_restore of ${manifest.id} failed (exit ${restored.exitCode}): ${lastErrorLine(restored.stderrTail)}; the tenant was not changed`);
    }
    const restoreMBps = restored.bytes / 1e6 / Math.max(0.001, (ctx.clock.now() - restoreStarted) / 1000);

    // 2. App and worker stop (nothing writes), the scratch database takes the tenant database's place.
    const clients = servicesOf(rendered).filter((s) => s !== 'db' && s !== 'redis');
    const composeOptions = { signal: ctx.signal, onProgress: ctx.reporter.detail };
    ctx.reporter.step(`stopping ${clients.join(', ')} of ${id}`);
    if (clients.length > 0) await composeVerb(host, t.target, ['stop', '--timeout', '10', ...clients], { ...composeOptions, timeoutMs: composeStopTimeoutMs });
    let swapped = false;
    try {
      ctx.reporter.step('swapping in the restored database');
      const old = `tenant_replaced_${suffix}`;
      await q('template1', [
        `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname IN ('tenant', '${scratch}') AND pid <> pg_backend_pid()`,
      ].join('; '), 'closing connections to the tenant database');
      // One implicit transaction: both renames, or neither.
      await q('template1', `ALTER DATABASE tenant RENAME TO ${old}; ALTER DATABASE ${scratch} RENAME TO tenant`, 'swapping the databases');
      swapped = true;
      await q('template1', 'REVOKE CONNECT ON DATABASE tenant FROM PUBLIC; GRANT CONNECT ON DATABASE tenant TO tenant_app', 'granting the app its connection');
      await q('template1', `DROP DATABASE ${old}`, 'dropping the replaced database').catch((error) => {
        ctx.reporter.info(`the replaced database ${old} could not be dropped (${messageOf(error)}); drop it by hand`);
      });

      // 3. Redis gets the snapshot: written beside the old data first, then moved into place, as
      // the append-only file's base (Redis runs with appendonly yes) and as dump.rdb.
      ctx.reporter.step(`replacing the Redis data of ${id}`);
      await composeVerb(host, t.target, ['stop', '--timeout', '10', 'redis'], { ...composeOptions, timeoutMs: composeStopTimeoutMs });
      const script = [
        'set -eu',
        'rm -rf /data/.tenantctl-restore && mkdir -p /data/.tenantctl-restore/appendonlydir && cd /data/.tenantctl-restore',
        'cat > appendonlydir/appendonly.aof.1.base.rdb',
        ': > appendonlydir/appendonly.aof.1.incr.aof',
        'printf "file appendonly.aof.1.base.rdb seq 1 type b\\nfile appendonly.aof.1.incr.aof seq 1 type i\\n" > appendonlydir/appendonly.aof.manifest',
        'cp appendonlydir/appendonly.aof.1.base.rdb dump.rdb',
        'rm -rf /data/appendonlydir /data/dump.rdb /data/appendonly.aof',
        // Owned like the volume itself: Redis (whatever user its image runs as) must append to them.
        'chown -R "$(stat -c %u:%g /data)" appendonlydir dump.rdb',
        'mv appendonlydir dump.rdb /data/ && cd / && rmdir /data/.tenantctl-restore',
      ].join('\n');
      const copied = await dockerFromFile(host, ['run', '--rm', '-i', '--network', 'none', '--user', '0', '--label', `tenantctl.restore=${id}`, '-v', `${redisVolume}:/data`, '--entrypoint', 'sh', redisContainer.imageId, '-c', script],
        path.join(dir, redisFile), { timeoutMs: redisCopyTimeoutMs, signal: ctx.signal });
      if (copied.exitCode !== 0) throw new TenantctlError('docker', `writing the Redis snapshot into ${redisVolume} failed (exit ${copied.exitCode}): ${lastErrorLine(copied.stderrTail)}`);
    } finally {
      // 4. Whatever happened, the stack starts again.
      ctx.reporter.step(`starting ${id}`);
      await startAgain(ctx, t.target).catch((error) => {
        if (!swapped) throw error;
        throw new TenantctlError('docker', `${messageOf(error)}; the database is restored, start it with tenantctl start ${id}`, { cause: error });
      });
    }
    ctx.reporter.step('waiting until every service is ready');
    await waitForTenantReady(ctx, await readyTargetOf(ctx, t.record, rendered, secrets));

    // 5. The modules the tenant had when it was backed up (API keys are never brought back).
    const now = new Map((await listModules(db, id)).map((m) => [m.key, m.enabled]));
    const modulesChanged: string[] = [];
    for (const m of document.modules ?? []) {
      if (now.has(m.key) && now.get(m.key) !== m.enabled) {
        await setModule(db, id, m.key, m.enabled);
        modulesChanged.push(`${m.key} ${m.enabled ? 'on' : 'off'}`);
      }
    }
    await db.withTransaction((client) => recordAudit(db, client, id, 'backup.restored', null, { backup: manifest.id, from: manifest.tenant, directory: dir, modulesChanged }));
    return { modulesChanged, restoreMBps };
  } finally {
    await unlock();
  }
}

/**
 * `compose start` of the stopped services. The ports are the tenant's own (reserved in the admin
 * database), so "port is already allocated" right after the stop is the engine still releasing
 * them (its userland proxy): tried again for a short while, never with other ports.
 */
async function startAgain(ctx: Context, target: ComposeTarget): Promise<void> {
  await retryUntilDeadline(async () => {
    try {
      await composeVerb(ctx.dockerHost, target, ['start'], { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
      return done(undefined);
    } catch (error) {
      if (error instanceof TenantctlError && /port is already allocated/i.test(error.message)) return notYet(error.message);
      throw error;
    }
  }, {
    what: 'starting the stack again',
    deadlineMs: portReleaseGraceMs,
    clock: ctx.clock,
    signal: ctx.signal,
    initialDelayMs: 250,
    onDeadline: (why) => new TenantctlError('docker', why),
  });
}
