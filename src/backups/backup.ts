import path from 'node:path';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { BatchFailure, TenantctlError, messageOf, usageError } from '../common/errors.js';
import { ensurePrivateDir } from '../common/private-files.js';
import { recordAudit } from '../audit/write.js';
import { listModules } from '../modules/store.js';
import { parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { holdTenant } from '../tenants/hold.js';
import { requireComposeFile, requireTenantFor, tenantNamedSecretsFor, type Day2Target } from '../tenants/day2-target.js';
import { readyTargetOf, waitForTenantReady } from '../tenants/wait-ready.js';
import { composeStartTimeoutMs, composeStopTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import { runBatch, type BatchItem } from '../tenants/batch.js';
import { lastDeployment } from '../tenants/deployments.js';
import type { AdminDb } from '../admin-db/database.js';
import { BackupStore, heartbeatEveryMs } from './store.js';
import { settleLeftBackup } from './settle-left.js';
import { pruneBackups } from './prune.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { snapshotPiece, type SnapshotContext } from './piece-snapshots.js';
import { declaredPieces, type Piece } from './pieces.js';
import { migrationsDatabaseOf, tenantState } from './tenant-state.js';
import { onContainers, runtimeFor } from '../runtime/runtime-for.js';
import { backupIntoRepository, repositoryOf } from './repository-backup.js';
import { parseRetention, pruneRepositoryBackups, type RetentionPolicy } from './retention.js';
import { backupMethodFor, chooseBackupMethod, physicalRefusal, physicalPiece, type BackupMethod } from './physical-snapshot.js';
import {
  backupDirectory, backupFormat, manifestFile, newBackupId, sha256Of, tenantFile,
  type BackupManifest, type ManifestEntry,
} from './manifest.js';

// `tenantctl backup <id>... [--all] [--keep N]`: while the tenant runs, a consistent snapshot of
// each piece of state its template declares (x-tenantctl.state: piece-snapshots.ts says how for
// each kind), streamed to a file; the tenant's record (template, profiles), modules, API key hashes
// and deployment as JSON; a manifest (format 2: template, pieces, sizes and SHA-256). Recorded in
// admin_backups as running (with a heartbeat), then succeeded only once every piece passed its
// check, or failed with the reason (and no files left).

export interface BackupResult {
  id: string;
  tenant: string;
  directory: string;
  sizeBytes: number;
  files: Record<string, ManifestEntry>;
  /** Older backups of the tenant removed by --keep. */
  pruned: string[];
  /** What went wrong after the backup was recorded (its retention): the backup itself succeeded. */
  warnings?: string[];
  durationMs: number;
  /** MB/s of the database dump (MB = 10^6 bytes). */
  dumpMBps: number;
  /** A backup in the restic repository: where (credentials redacted), and each file's snapshot id. */
  repository?: string;
  snapshots?: Record<string, string>;
  /** logical (pg_dump, every piece) or physical (the PostgreSQL cluster's files; its other pieces as a logical backup takes them). */
  method: BackupMethod;
  /** A file-level physical backup: data files seen and skipped unchanged, bytes added, WAL segments copied. */
  physical?: { files: number; unmodified: number; addedBytes: number; walSegments: number };
}

export interface BackupBatchResult {
  kind: 'batch';
  verb: 'backup';
  tenants: BatchItem<BackupResult>[];
  summary: { total: number; ok: number; failed: number; durationMs: number };
  /** --physical --all: the tenants left out (their state has not exactly one PostgreSQL piece, or their plan has pitr), each with why. */
  warnings?: string[];
}


export function parseKeep(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const keep = Number(raw);
  if (!Number.isInteger(keep) || keep < 1 || keep > 10_000) throw usageError(`--keep ${JSON.stringify(String(raw))}: expected a whole number from 1 to 10000`);
  return keep;
}

export interface BackupOptions {
  keep?: number;
  /** --keep-daily/--keep-weekly/--keep-monthly: retention in the repository (restic forget of the tenant's snapshots). */
  retention?: RetentionPolicy;
  /**
   * physical (--physical) or logical whatever the plan says; unset: the plan's backupMethod (the
   * agent's scheduled backups). move and clone ask for logical: they restore it piece by piece.
   */
  method?: BackupMethod;
}

export async function backupMany(ctx: Context, input: { ids: string[]; all?: boolean; keep?: unknown; keepDaily?: unknown; keepWeekly?: unknown; keepMonthly?: unknown; physical?: boolean }): Promise<BackupResult | BackupBatchResult> {
  const started = ctx.clock.now();
  const keep = parseKeep(input.keep);
  const retention = parseRetention({ daily: input.keepDaily, weekly: input.keepWeekly, monthly: input.keepMonthly });
  if (retention && !repositoryOf(ctx)) throw usageError('--keep-daily/--keep-weekly/--keep-monthly apply to backups in a repository: set backups.repository (TENANTCTL_BACKUP_REPOSITORY), or use --keep N');
  if (retention && keep !== undefined) throw usageError('give --keep N or --keep-daily/--keep-weekly/--keep-monthly, not both');
  if (input.physical && !repositoryOf(ctx)) throw usageError('--physical backs up into the repository (restic dedupes the unchanged pages): set backups.repository (TENANTCTL_BACKUP_REPOSITORY)');
  const physical = input.physical === true;
  if (input.all && input.ids.length > 0) throw usageError('give tenant ids or --all, not both');
  let ids = input.ids.map((id) => parseTenantId(id));
  const skipped: string[] = [];
  if (new Set(ids).size !== ids.length) throw usageError('a tenant id is given twice');
  if (input.all) {
    const db = await ctx.adminDb();
    // Tenants whose template declares no state cannot be backed up: left out of --all, not failed.
    ids = (await withState(ctx, (await new TenantRegistry(db).list({ status: 'active' })).filter((t) => t.host === ctx.dockerHost.id))).map((t) => t.id);
    if (ids.length === 0) throw new TenantctlError('notFound', `no active tenant on Docker host ${ctx.dockerHost.id} to back up`);
    if (physical) ids = await physicalOnly(ctx, db, ids, skipped);
  }
  if (ids.length === 0) throw usageError('give at least one tenant id, or --all');
  const method = physical ? 'physical' : undefined;
  if (ids.length === 1 && !input.all) return backupTenant(ctx, ids[0]!, { keep, retention, method });
  const items = await runBatch(ids, 1, (id) => {
    ctx.reporter.step(`backing up ${id}`);
    return backupTenant(ctx, id, { keep, retention, method });
  }, ctx.signal);
  const failed = items.filter((i) => !i.ok).length;
  const result: BackupBatchResult = { kind: 'batch', verb: 'backup', tenants: items, summary: { total: items.length, ok: items.length - failed, failed, durationMs: ctx.clock.now() - started }, ...(skipped.length ? { warnings: skipped } : {}) };
  if (failed > 0) {
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', `interrupted: ${failed} of ${items.length} backups not made`);
    throw new BatchFailure(result, `${failed} of ${items.length} backups failed; the others are made`);
  }
  return result;
}

export async function backupTenant(ctx: Context, rawId: unknown, { keep, retention, method: asked }: BackupOptions = {}): Promise<BackupResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(rawId);
  const db = await ctx.adminDb();
  const unlock = await holdTenant(ctx, id);
  try {
    const t = await requireTenantFor(ctx, id, 'be backed up (its services must run)', ['active', 'suspended']);
    const host = ctx.dockerHost;
    const { template, pieces, secrets } = await tenantState(ctx, db, t, 'be backed up');

    const backupId = newBackupId(id, new Date(ctx.clock.now()));
    const location = repositoryOf(ctx);
    // A plan's backupMethod physical falls back to logical (with a warning in the result) where the
    // template has no single PostgreSQL piece or there is no repository; --physical there is refused.
    const plan = ctx.config.plans[t.record.plan as keyof typeof ctx.config.plans];
    const choice = chooseBackupMethod({ tenant: id, plan: t.record.plan, pieces, asked, planMethod: backupMethodFor(ctx, t.record.plan), pitr: plan?.pitr === true, repository: location !== undefined });
    const method = choice.method;
    const warnings: string[] = [];
    if (choice.warning) {
      warnings.push(choice.warning);
      ctx.reporter.info(`warning: ${choice.warning}`);
    }
    if (location) {
      // Physical: the one PostgreSQL piece file-level, every other piece as a logical backup takes it.
      if (method === 'physical') physicalPiece(pieces, id, template.name);
      const store = new BackupStore(db);
      await failKilledBackups(ctx, store, id);
      const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
      const stopAfter = t.record.status === 'suspended' ? await startStateServices(ctx, t, runtime, pieces) : undefined;
      try {
        const snapshot: SnapshotContext = { ctx: onContainers(ctx, runtime), project: t.record.composeProject, runtime, tenant: id, secrets, migrationsDatabase: migrationsDatabaseOf(ctx, template, t.record) };
        const made = await backupIntoRepository(ctx, db, location, { id, backupId, template, pieces, snapshot, method, document: () => tenantDocument(db, id) });
        warnings.push(...(made.warnings ?? []));
        // The backup is recorded: retention failing after it (a lock, an unreachable repository) is a warning, not a failed backup (the journal finishes it later).
        let pruned: string[] = [];
        if (keep !== undefined || retention !== undefined) {
          try {
            pruned = await pruneRepositoryBackups(ctx, db, id, retention ?? { last: keep });
          } catch (error) {
            if (error instanceof TenantctlError && error.kind === 'interrupted') throw error;
            warnings.push(`retention after backup ${backupId} failed: ${messageOf(error)}`);
            ctx.reporter.info(`warning: ${warnings[warnings.length - 1]!}`);
          }
        }
        return { id: backupId, tenant: id, directory: made.directory, sizeBytes: made.sizeBytes, files: made.files, pruned, durationMs: ctx.clock.now() - started, dumpMBps: made.dumpMBps, repository: made.repository, snapshots: made.snapshots, method, ...(made.physical ? { physical: made.physical } : {}), ...(warnings.length ? { warnings } : {}) };
      } finally {
        await stopAfter?.();
      }
    }
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
    const beat = setInterval(() => void store.heartbeat(backupId).catch(ignoreFailure("a missed heartbeat is harmless (the next one comes); the backup's own steps report the admin database failing")), heartbeatEveryMs);
    beat.unref();
    let stopAfter: (() => Promise<void>) | undefined;
    let recordedSucceeded = false;
    try {
      // Recorded as running, nothing snapshotted yet: where e2e tests kill a backup (a scheduled one too).
      await ctx.pause('backup:running');
      const files: Record<string, ManifestEntry> = {};
      const recorded: BackupManifest['pieces'] = {};
      const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
      // A suspended tenant's stack is stopped: the services holding its state run for the snapshots only.
      if (t.record.status === 'suspended') stopAfter = await startStateServices(ctx, t, runtime, pieces);
      const snapshot: SnapshotContext = { ctx: onContainers(ctx, runtime), project: t.record.composeProject, runtime, tenant: id, secrets, migrationsDatabase: migrationsDatabaseOf(ctx, template, t.record) };
      let dumpMBps = 0;
      for (const piece of pieces) {
        ctx.reporter.step(`snapshotting ${piece.name} of ${id} (${describePiece(piece)})`);
        const pieceStarted = ctx.clock.now();
        const taken = await snapshotPiece(snapshot, piece, path.join(partialDir, piece.file));
        files[piece.file] = { bytes: taken.bytes, sha256: taken.sha256 };
        recorded[piece.name] = { kind: piece.kind, service: piece.service, file: piece.file, image: taken.image, imageId: taken.imageId, ...(taken.version ? { version: taken.version } : {}) };
        if (piece.kind === 'postgres') dumpMBps = taken.bytes / 1e6 / Math.max(0.001, (ctx.clock.now() - pieceStarted) / 1000);
      }

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
        template: template.name,
        pieces: recorded,
        files,
      };
      const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
      await writeFile(path.join(partialDir, manifestFile), manifestText, { mode: 0o600 });
      await syncFiles(partialDir, [...Object.keys(files), manifestFile]);
      await rename(partialDir, finalDir);
      // Complete on disk, not yet recorded: a kill here is settled by verifying the folder (scheduled-backup.ts).
      await ctx.pause('backup:renamed');
      const sizeBytes = Object.values(files).reduce((sum, f) => sum + f.bytes, 0) + Buffer.byteLength(manifestText);
      await store.succeed(backupId, { directory: finalDir, sizeBytes, manifestSha256: sha256Of(manifestText), manifest });
      recordedSucceeded = true;
      await db.withTransaction((client) => recordAudit(db, client, id, 'backup.created', null, { backup: backupId, directory: finalDir, sizeBytes, pieces: pieces.map((p) => p.name) }));

      const pruned = keep === undefined ? [] : await pruneBackups(ctx, db, id, keep);
      return { id: backupId, tenant: id, directory: finalDir, sizeBytes, files, pruned, durationMs: ctx.clock.now() - started, dumpMBps, method: 'logical', ...(warnings.length ? { warnings } : {}) };
    } catch (error) {
      // Best effort on the way out: the first cause (error, rethrown below) is the answer; a row
      // left 'running' and its .partial folder are settled by the tenant's next backup (failKilledBackups).
      await rm(partialDir, { recursive: true, force: true }).catch(ignoreFailure('the first cause is rethrown below; a .partial folder left is settled by the next backup'));
      // Stopped after the rename but before its row said succeeded: the folder goes with the row's failure.
      if (!recordedSucceeded) await rm(finalDir, { recursive: true, force: true }).catch(ignoreFailure('the first cause is rethrown below; a folder left without its succeeded row is settled by the next backup'));
      await store.fail(backupId, messageOf(error)).catch(ignoreFailure("the backup's own error is the one thrown; a row that cannot say failed now is settled as killed by the next backup"));
      throw error;
    } finally {
      clearInterval(beat);
      await stopAfter?.();
    }
  } finally {
    await unlock();
  }
}

/**
 * The services a suspended tenant's backup must start: those of its datastore pieces (postgres:
 * pg_dump talks to the server; redis: BGSAVE). SQLite and volume pieces are copied by a helper
 * container on the service's volume, which needs no running service and is consistent with it
 * stopped, so their services (a frontbase tenant's backend and edge, app services) stay stopped.
 */
export function servicesToStartForBackup(pieces: readonly Pick<Piece, 'kind' | 'service'>[]): string[] {
  return [...new Set(pieces.filter((p) => p.kind === 'postgres' || p.kind === 'redis').map((p) => p.service))];
}

/**
 * Starts the datastore services of a suspended tenant (servicesToStartForBackup: never an app
 * service; the front door stays closed) and waits until they are ready by the template's probes;
 * returns what stops them again, with a signal of its own so Ctrl-C still leaves the stack
 * stopped. A run killed meanwhile leaves them running: `tenantctl suspend <id>` again stops them.
 */
async function startStateServices(ctx: Context, t: Day2Target, runtime: TenantRuntime, pieces: readonly Piece[]): Promise<(() => Promise<void>) | undefined> {
  const services = servicesToStartForBackup(pieces);
  if (services.length === 0) return undefined;
  const stop = async () => {
    ctx.reporter.step(`stopping ${services.join(', ')} of suspended ${t.record.id} again`);
    await runtime.stop(services, { timeoutMs: composeStopTimeoutMs, signal: new AbortController().signal, onProgress: ctx.reporter.detail });
  };
  ctx.reporter.step(`${t.record.id} is suspended: starting ${services.join(', ')} for the backup (its app stays stopped)`);
  try {
    await runtime.start(services, { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
    const rendered = await requireComposeFile(t);
    const secrets = await tenantNamedSecretsFor(ctx, await ctx.adminDb(), t, Object.keys((await loadTenantTemplate(ctx, t.record)).block.secrets));
    await waitForTenantReady(onContainers(ctx, runtime), await readyTargetOf(ctx, t.record, rendered, secrets), { only: services });
  } catch (error) {
    await stop().catch(ignoreFailure('the readiness error is the cause; a stop that fails leaves a suspended tenant up, which doctor reports (suspended-running)'));
    throw error;
  }
  return stop;
}

/** One line for progress: how a piece is snapshotted. */
function describePiece(piece: Piece): string {
  switch (piece.kind) {
    case 'postgres': return `pg_dump -Fc of ${piece.database} in its ${piece.service} container`;
    case 'redis': return `BGSAVE of the ${piece.service} Redis`;
    case 'sqlite': return `SQLite's online backup of ${piece.path} of ${piece.service}`;
    case 'volume': return `${piece.service} stopped, ${piece.mount} archived, started again`;
  }
}

/**
 * A backup of this tenant still recorded as running was made by a run that is gone: this one holds
 * the tenant's lock, which every backup holds while it runs. Its .partial folder (its own, under
 * backupsDir) goes, and it is recorded as failed, so nothing of it is left or listed as running.
 */
async function failKilledBackups(ctx: Context, store: BackupStore, id: string): Promise<void> {
  for (const left of (await store.list({ tenant: id })).filter((b) => b.state === 'running')) {
    await settleLeftBackup(ctx.config.backupsDir, store, left, 'its run was interrupted (found by a later backup of the tenant)');
  }
}


/** The tenants of `records` whose template declares state (one that cannot be loaded stays in, so the command says why). */
/**
 * --physical --all: only the tenants a physical backup can take (their state, the template's pieces
 * whose service runs for their profiles, has exactly one postgres piece; their plan no pitr); the others are left out with a warning each, not failed.
 */
async function physicalOnly(ctx: Context, db: AdminDb, ids: string[], skipped: string[]): Promise<string[]> {
  const registry = new TenantRegistry(db);
  const kept: string[] = [];
  for (const id of ids) {
    const record = await registry.require(id);
    // A template that does not load is not left out here: its own backup says why it fails.
    let template: Awaited<ReturnType<typeof loadTenantTemplate>>;
    try {
      template = await loadTenantTemplate(ctx, record);
    } catch {
      kept.push(id);
      continue;
    }
    // The tenant's pieces, its profiles' services only (a PostgreSQL piece may come from a profile).
    let pieces: ReturnType<typeof declaredPieces>;
    try {
      pieces = declaredPieces(template, record.profiles);
    } catch {
      kept.push(id);
      continue;
    }
    const pitr = ctx.config.plans[record.plan as keyof typeof ctx.config.plans]?.pitr === true;
    const why = pitr ? `its plan ${record.plan} has pitr` : physicalRefusal(pieces);
    if (why === undefined) kept.push(id);
    else {
      skipped.push(`${id} left out of --physical --all: ${why}`);
      ctx.reporter.info(`warning: ${skipped[skipped.length - 1]!}`);
    }
  }
  if (kept.length === 0) throw usageError(`--physical --all: no active tenant on Docker host ${ctx.dockerHost.id} whose state has exactly one PostgreSQL piece (${skipped.join('; ')})`);
  return kept;
}

async function withState<T extends Parameters<typeof loadTenantTemplate>[1]>(ctx: Context, records: T[]): Promise<T[]> {
  const keep = await Promise.all(records.map((record) => loadTenantTemplate(ctx, record).then((t) => Object.keys(t.block.state).length > 0, () => true)));
  return records.filter((_, i) => keep[i]);
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
    // The template and profiles it runs with: a restore into a new tenant provisions the same shape.
    record: {
      id: record.id, name: record.name, plan: record.plan, status: record.status, host: record.host, composeProject: record.composeProject, appUrl: record.appUrl,
      provisionedAt: record.provisionedAt, template: record.template, profiles: record.profiles,
    },
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
