import path from 'node:path';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { BatchFailure, TenantctlError, messageOf, usageError } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { dumpRestoreTimeoutMs, redisCopyTimeoutMs, redisSnapshotTimeoutMs } from '../common/timeouts.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { ensurePrivateDir } from '../common/private-files.js';
import { dockerFromFile, dockerToFile } from '../stack/docker-stream.js';
import { recordAudit } from '../audit/write.js';
import { listModules } from '../modules/store.js';
import { parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { holdTenant } from '../tenants/hold.js';
import { requireTenantFor, tenantSecretsFor } from '../tenants/day2-target.js';
import { runBatch, type BatchItem } from '../tenants/batch.js';
import { lastDeployment } from '../tenants/deployments.js';
import type { AdminDb } from '../admin-db/database.js';
import { dataServices, execIn, redisCliIn, requireRunning } from './containers.js';
import { BackupStore, heartbeatEveryMs } from './store.js';
import { pruneBackups } from './prune.js';
import { crmShaped } from '../tenants/tenant-template.js';
import { refuseOnSwarm } from '../stack/swarm-stack.js';
import {
  backupDirectory, backupFormat, dumpFile, manifestFile, newBackupId, redisFile, sha256Of, tenantFile,
  type BackupManifest, type ManifestEntry,
} from './manifest.js';

// `tenantctl backup <id>... [--all] [--keep N]`: while the tenant runs, a consistent pg_dump (one
// snapshot) made inside its own db container (its own pg_dump version, as tenant_owner, no TTY),
// streamed to a file; a Redis snapshot (BGSAVE, then the file it wrote); the tenant's record,
// modules, API key hashes and deployment as JSON; a manifest with sizes and SHA-256. Recorded in
// admin_backups as running (with a heartbeat), then succeeded only once the dump is non-trivial
// and `pg_restore --list` reads it, or failed with the reason (and no files left).

export interface BackupResult {
  id: string;
  tenant: string;
  directory: string;
  sizeBytes: number;
  files: Record<string, ManifestEntry>;
  /** Older backups of the tenant removed by --keep. */
  pruned: string[];
  durationMs: number;
  /** MB/s of the database dump (MB = 10^6 bytes). */
  dumpMBps: number;
}

export interface BackupBatchResult {
  kind: 'batch';
  verb: 'backup';
  tenants: BatchItem<BackupResult>[];
  summary: { total: number; ok: number; failed: number; durationMs: number };
}

/** Below this, a custom-format dump of a tenant database cannot hold its schema: something went wrong. */
const minimumDumpBytes = 2048;

export function parseKeep(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const keep = Number(raw);
  if (!Number.isInteger(keep) || keep < 1 || keep > 10_000) throw usageError(`--keep ${JSON.stringify(String(raw))}: expected a whole number from 1 to 10000`);
  return keep;
}

export async function backupMany(ctx: Context, input: { ids: string[]; all?: boolean; keep?: unknown }): Promise<BackupResult | BackupBatchResult> {
  const started = ctx.clock.now();
  const keep = parseKeep(input.keep);
  if (input.all && input.ids.length > 0) throw usageError('give tenant ids or --all, not both');
  let ids = input.ids.map((id) => parseTenantId(id));
  if (new Set(ids).size !== ids.length) throw usageError('a tenant id is given twice');
  if (input.all) {
    const db = await ctx.adminDb();
    // Written for crm's shape: tenants of other templates are left out of --all.
    ids = (await crmShaped(ctx, (await new TenantRegistry(db).list({ status: 'active' })).filter((t) => t.host === ctx.dockerHost.id))).map((t) => t.id);
    if (ids.length === 0) throw new TenantctlError('notFound', `no active tenant on Docker host ${ctx.dockerHost.id} to back up`);
  }
  if (ids.length === 0) throw usageError('give at least one tenant id, or --all');
  if (ids.length === 1 && !input.all) return backupTenant(ctx, ids[0]!, { keep });
  const items = await runBatch(ids, 1, (id) => {
    ctx.reporter.step(`backing up ${id}`);
    return backupTenant(ctx, id, { keep });
  }, ctx.signal);
  const failed = items.filter((i) => !i.ok).length;
  const result: BackupBatchResult = { kind: 'batch', verb: 'backup', tenants: items, summary: { total: items.length, ok: items.length - failed, failed, durationMs: ctx.clock.now() - started } };
  if (failed > 0) {
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', `interrupted: ${failed} of ${items.length} backups not made`);
    throw new BatchFailure(result, `${failed} of ${items.length} backups failed; the others are made`);
  }
  return result;
}

export async function backupTenant(ctx: Context, rawId: unknown, { keep }: { keep?: number } = {}): Promise<BackupResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(rawId);
  refuseOnSwarm(ctx.dockerHost, 'backup');
  const db = await ctx.adminDb();
  const unlock = await holdTenant(ctx, id);
  try {
    const t = await requireTenantFor(ctx, id, 'be backed up (its database must be running)', ['active']);
    const host = ctx.dockerHost;
    const project = t.record.composeProject;
    const secrets = await tenantSecretsFor(ctx, db, t);
    const dbContainer = await requireRunning(host, project, dataServices.database, id, ctx.signal);
    const redisContainer = await requireRunning(host, project, dataServices.redis, id, ctx.signal);

    const backupId = newBackupId(id, new Date(ctx.clock.now()));
    const finalDir = backupDirectory(ctx.config.backupsDir, id, backupId);
    const partialDir = `${finalDir}.partial`;
    await ensurePrivateDir(ctx.config.backupsDir).catch((error) => {
      throw new TenantctlError('usage', `backupsDir ${ctx.config.backupsDir} cannot be created: ${messageOf(error)}; set backupsDir (TENANTCTL_BACKUPS_DIR) to a writable directory`, { cause: error });
    });
    await ensurePrivateDir(path.dirname(finalDir));
    await mkdir(partialDir, { mode: 0o700 });

    const store = new BackupStore(db);
    await failKilledBackups(ctx, store, id);
    await store.start({ id: backupId, tenant: id, host: host.id, directory: partialDir });
    const beat = setInterval(() => void store.heartbeat(backupId).catch(() => {}), heartbeatEveryMs);
    beat.unref();
    try {
      const files: Record<string, ManifestEntry> = {};

      ctx.reporter.step(`dumping the database of ${id} (pg_dump -Fc in its db container)`);
      const dumpStarted = ctx.clock.now();
      const dump = await dockerToFile(host, ['exec', dbContainer.id, 'pg_dump', '-U', 'tenant_owner', '-d', 'tenant', '-Fc', '--no-password'], path.join(partialDir, dumpFile), {
        timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal,
      });
      if (dump.exitCode !== 0) throw new TenantctlError('docker', `pg_dump of ${id} failed (exit ${dump.exitCode}): ${lastErrorLine(dump.stderrTail)}`);
      const dumpSeconds = Math.max(0.001, (ctx.clock.now() - dumpStarted) / 1000);
      await checkDump(ctx, dbContainer.id, path.join(partialDir, dumpFile), dump.bytes);
      files[dumpFile] = { bytes: dump.bytes, sha256: dump.sha256 };
      const version = (await execIn(host, dbContainer.id, ['pg_dump', '--version'], { what: 'pg_dump --version', signal: ctx.signal })).trim();

      ctx.reporter.step(`snapshotting Redis of ${id} (BGSAVE)`);
      await redisSnapshot(ctx, redisContainer.id, secrets.REDIS_PASSWORD);
      const rdb = await dockerToFile(host, ['exec', redisContainer.id, 'cat', '/data/dump.rdb'], path.join(partialDir, redisFile), { timeoutMs: redisCopyTimeoutMs, signal: ctx.signal });
      if (rdb.exitCode !== 0) throw new TenantctlError('docker', `copying the Redis snapshot of ${id} failed (exit ${rdb.exitCode}): ${lastErrorLine(rdb.stderrTail)}`);
      await checkMagic(path.join(partialDir, redisFile), 'REDIS', `the Redis snapshot of ${id}`);
      files[redisFile] = { bytes: rdb.bytes, sha256: rdb.sha256 };

      ctx.reporter.step(`recording ${id}'s record, modules and key hashes`);
      const tenantJson = `${JSON.stringify(await tenantDocument(db, id), null, 2)}\n`;
      await writeFile(path.join(partialDir, tenantFile), tenantJson, { mode: 0o600 });
      files[tenantFile] = { bytes: Buffer.byteLength(tenantJson), sha256: sha256Of(tenantJson) };

      const manifest: BackupManifest = {
        format: backupFormat,
        id: backupId,
        tenant: id,
        createdAt: new Date(ctx.clock.now()).toISOString(),
        host: host.id,
        postgres: { image: dbContainer.image, imageId: dbContainer.imageId, version },
        redis: { image: redisContainer.image, imageId: redisContainer.imageId },
        files,
      };
      const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
      await writeFile(path.join(partialDir, manifestFile), manifestText, { mode: 0o600 });
      await syncFiles(partialDir, [...Object.keys(files), manifestFile]);
      await rename(partialDir, finalDir);
      const sizeBytes = Object.values(files).reduce((sum, f) => sum + f.bytes, 0) + Buffer.byteLength(manifestText);
      await store.succeed(backupId, { directory: finalDir, sizeBytes, manifestSha256: sha256Of(manifestText), manifest });
      await db.withTransaction((client) => recordAudit(db, client, id, 'backup.created', null, { backup: backupId, directory: finalDir, sizeBytes }));

      const pruned = keep === undefined ? [] : await pruneBackups(ctx, db, id, keep);
      return { id: backupId, tenant: id, directory: finalDir, sizeBytes, files, pruned, durationMs: ctx.clock.now() - started, dumpMBps: dump.bytes / 1e6 / dumpSeconds };
    } catch (error) {
      await rm(partialDir, { recursive: true, force: true }).catch(() => {});
      await store.fail(backupId, messageOf(error)).catch(() => {});
      throw error;
    } finally {
      clearInterval(beat);
    }
  } finally {
    await unlock();
  }
}

/**
 * A backup of this tenant still recorded as running was made by a run that is gone: this one holds
 * the tenant's lock, which every backup holds while it runs. Its .partial folder (its own, under
 * backupsDir) goes, and it is recorded as failed, so nothing of it is left or listed as running.
 */
async function failKilledBackups(ctx: Context, store: BackupStore, id: string): Promise<void> {
  for (const left of (await store.list({ tenant: id })).filter((b) => b.state === 'running')) {
    const partial = `${backupDirectory(ctx.config.backupsDir, id, left.id)}.partial`;
    if (path.resolve(left.directory) === partial) await rm(partial, { recursive: true, force: true });
    await store.fail(left.id, 'its run was interrupted (found by a later backup of the tenant)');
  }
}

/** A dump is recorded only if it is non-trivial and pg_restore (the tenant's own) reads its table of contents. */
async function checkDump(ctx: Context, container: string, file: string, bytes: number): Promise<void> {
  if (bytes < minimumDumpBytes) throw new TenantctlError('docker', `the database dump is only ${bytes} bytes: pg_dump wrote no real dump (not recorded as a backup)`);
  await checkMagic(file, 'PGDMP', 'the database dump');
  const list = await dockerFromFile(ctx.dockerHost, ['exec', '-i', container, 'pg_restore', '--list'], file, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal });
  if (list.exitCode !== 0) throw new TenantctlError('docker', `pg_restore --list cannot read the dump (exit ${list.exitCode}): ${lastErrorLine(list.stderrTail)}`);
  if (!/TABLE DATA \S+ tenant_schema_migrations/.test(list.stdout)) {
    throw new TenantctlError('docker', 'the dump has no data of tenant_schema_migrations: it is not a tenant database (not recorded as a backup)');
  }
}

async function checkMagic(file: string, magic: string, what: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(magic.length);
    await handle.read(buffer, 0, magic.length, 0);
    if (buffer.toString('latin1') !== magic) throw new TenantctlError('docker', `${what} does not start with ${magic}: not the expected format`);
  } finally {
    await handle.close();
  }
}

/** BGSAVE, waited for (through retry.ts) until Redis says a save newer than the request succeeded. */
async function redisSnapshot(ctx: Context, container: string, password: string): Promise<void> {
  const host = ctx.dockerHost;
  const info = async () => {
    const text = await redisCliIn(host, container, password, ['INFO', 'persistence'], { what: 'redis-cli INFO', signal: ctx.signal });
    return Object.fromEntries(text.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => l.trim().split(':', 2) as [string, string]));
  };
  const before = Number((await info()).rdb_saves ?? 0);
  // SCHEDULE: if a rewrite of the append-only file is running, the save starts right after it.
  await redisCliIn(host, container, password, ['BGSAVE', 'SCHEDULE'], { what: 'redis-cli BGSAVE', signal: ctx.signal });
  await retryUntilDeadline(async () => {
    const now = await info();
    if (now.rdb_bgsave_in_progress === '1' || Number(now.rdb_saves ?? 0) <= before) return notYet('BGSAVE in progress');
    if (now.rdb_last_bgsave_status !== 'ok') throw new TenantctlError('docker', `Redis BGSAVE failed (rdb_last_bgsave_status ${now.rdb_last_bgsave_status}); see tenantctl logs`);
    return done(undefined);
  }, {
    what: 'waiting for the Redis snapshot',
    deadlineMs: redisSnapshotTimeoutMs,
    clock: ctx.clock,
    signal: ctx.signal,
    onDeadline: (why) => new TenantctlError('docker', `the Redis snapshot did not finish within ${redisSnapshotTimeoutMs / 1000} s: ${why}`),
  });
}

/** The tenant's record, modules, API key hashes (never keys) and last deployment: no secret. */
async function tenantDocument(db: AdminDb, id: string) {
  const record = await new TenantRegistry(db).require(id);
  const modules = (await listModules(db, id)).map((m) => ({ key: m.key, enabled: m.enabled }));
  const { rows: keys } = await db.pool.query(
    'SELECT id, name, prefix, key_hash, created_at, revoked_at FROM admin_api_keys WHERE customer_id = $1 ORDER BY created_at', [id],
  ).catch(db.unreachable);
  const deployment = await lastDeployment(db, id);
  return {
    record: { id: record.id, name: record.name, plan: record.plan, status: record.status, host: record.host, composeProject: record.composeProject, appUrl: record.appUrl, provisionedAt: record.provisionedAt },
    modules,
    apiKeys: keys.map((k) => ({ id: k.id, name: k.name, prefix: k.prefix, keyHash: k.key_hash, createdAt: k.created_at, revokedAt: k.revoked_at })),
    deployment: deployment ?? null,
  };
}

async function syncFiles(dir: string, names: string[]): Promise<void> {
  for (const name of names) {
    const handle = await open(path.join(dir, name), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
