import { randomBytes } from 'node:crypto';
import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import type { AdminDb } from '../admin-db/database.js';
import { walArchiveMount } from '../templates/wal-archive.js';
import { archivedFiles, asideFolder, asideIncarnations, removeArchived, removeAsideFolder } from './archive.js';
import { dockerPipe } from './docker-pipe.js';
import { repoQueryTimeoutMs, repoTransferTimeoutMs, snapshotsTagged, tagArgs, walTags, type PitrRepository } from './repo.js';
import { batchesInFlight, clearInFlight, decideInFlight, markInFlight, markReshipped } from './ship-in-flight.js';
import { holdRepositoryShared } from './repo-hold.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { markConfiguredPruneOwed } from '../repository/prune-interval.js';
import { asideTag, ensureIncarnation, incarnationTag } from './incarnation.js';

// Shipping: the archived WAL files of a tenant, from its archive volume into the repository, as one
// restic snapshot per batch (a tar streamed from `docker exec` into `restic backup --stdin`, tags
// tenant=<id> kind=wal incarnation=<the running cluster's>, or for files set aside in
// the volume by a to-time restore, the incarnation of the cluster that archived them and aside=1:
// wal-for-base.ts does not read them as the database made anew). A file leaves the volume only after restic has recorded the snapshot that
// holds it; a run killed in between ships it again next time (at least once: a restore extracts
// every batch, and a segment shipped twice is the same file twice). Run by the agent's loop every
// pitr.shipIntervalSeconds, by `backup` (the aside folders before its base, the rest after) and before a to-time restore. Each batch is listed as in
// flight in the admin database (ship-in-flight.ts) from before restic starts until its files left
// the volume; a batch a killed run left listed is settled by the next run before it ships anything
// (its possibly cut-off snapshot forgotten, audit 'pitr.wal-batch-forgotten' with the cause), so
// the to-time restore, which ships first, never meets one.

/** At most this many files per snapshot: a tenant far behind catches up in several. */
const batchLimit = 512;

export interface ShipResult {
  shipped: number;
  /** The newest WAL segment in the repository now, and when PostgreSQL archived it. */
  newest: string | null;
  newestArchivedAt: string | null;
  /** Archived files still in the volume after this run (new ones archived meanwhile). */
  waiting: number;
  snapshots: string[];
  /** Batches a killed earlier run left, settled by this one: what was done and why. */
  repaired: Array<{ file: string; forgotten: string[]; removed: number; cause: string }>;
}

/** Where a tenant's archive is: its tenant, its PostgreSQL container, a role to find the superuser by. */
export interface ShipWhere { tenant: string; container: string; anyRole: string }

/** `asideOnly`: only what waits set aside (and what a killed run left in flight), not the root (`backup`, before its base: below). */
export async function shipWal(ctx: Context, repo: PitrRepository, where: ShipWhere, { asideOnly = false } = {}): Promise<ShipResult> {
  const run: ShipRun = { snapshots: [], shipped: 0 };
  // The running cluster's incarnation (incarnation.ts), asked only when there is something to
  // settle or ship (an idle tenant costs no more than before), made at its first shipment if it has none.
  let incarnation: string | undefined;
  const current = async () => (incarnation ??= await ensureIncarnation(ctx, where.container, where.anyRole));
  const repaired = await settleInFlight(ctx, repo, where, current);
  // Files another cluster archived, set aside when it stopped (a to-time restore): under their own
  // incarnation, first (archive.ts asideFolder).
  for (const id of await asideIncarnations(ctx, where.container)) {
    if (!(await shipFolder(ctx, repo, where, run, asideFolder(id), async () => id))) break;
    await removeAsideFolder(ctx, where.container, id).catch(ignoreFailure('a folder still holding files ships again next time'));
  }
  const newest = asideOnly ? undefined : await shipFolder(ctx, repo, where, run, '', current).then(() => run.newest);
  const waiting = (await archivedFiles(ctx, where.container)).length;
  return { shipped: run.shipped, newest: newest?.name ?? null, newestArchivedAt: newest ? new Date(newest.archivedAt).toISOString() : null, waiting, snapshots: run.snapshots, repaired };
}

interface ShipRun { snapshots: string[]; shipped: number; newest?: { name: string; archivedAt: number } }

/** One folder of the archive shipped in batches tagged `incarnation`; false when this run shipped its share (a tenant far behind catches up over several runs). */
async function shipFolder(ctx: Context, repo: PitrRepository, where: ShipWhere, run: ShipRun, folder: string, incarnation: () => Promise<string>): Promise<boolean> {
  const db = await ctx.adminDb();
  for (;;) {
    const files = (await archivedFiles(ctx, where.container, folder)).slice(0, batchLimit);
    // A tenant far behind catches up over several runs, so one run never holds the tenant for long.
    if (run.snapshots.length >= 8) return false;
    if (files.length === 0) return true;
    const names = files.map((f) => f.name);
    // Unique per run: a batch left in flight is found by its path alone.
    const file = `wal-${names[0]}-${names.at(-1)}-${randomBytes(3).toString('hex')}.tar`;
    const tag = await incarnation();
    await markInFlight(db, where.tenant, { file, names, startedAt: new Date(ctx.clock.now()).toISOString(), incarnation: tag, ...(folder ? { folder } : {}) });
    const tar = await dockerPipe(ctx.dockerHost, ['exec', where.container, 'tar', '-C', folder ? `${walArchiveMount}/${folder}` : walArchiveMount, '-cf', '-', '--', ...names], { out: true }, { timeoutMs: repoTransferTimeoutMs, signal: ctx.signal, what: 'reading WAL segments from the archive' });
    let summary: { snapshot_id?: string };
    // Held per batch: a prune waiting for the repository waits for one batch at most.
    const release = await holdRepositoryShared(ctx).catch(async (error) => { tar.kill(); await tar.done.catch(ignoreFailure('the killed tar; the hold\'s failure is the cause thrown')); throw error; });
    try {
      summary = await repo.json<{ snapshot_id?: string }>(
        ['backup', '--stdin', '--stdin-filename', file, ...tagArgs([...walTags(where.tenant), incarnationTag(tag), ...(folder ? [asideTag] : [])]), '--host', 'tenantctl'],
        { timeoutMs: repoTransferTimeoutMs, signal: ctx.signal, stdin: tar.stdout },
      );
    } catch (error) {
      tar.kill();
      await tar.done.catch(ignoreFailure('the killed tar; restic\'s failure is the cause thrown'));
      throw error;
    } finally {
      await release();
    }
    // Recorded by restic, not yet trusted: where e2e tests kill a shipment (the next run settles it).
    await ctx.pause('pitr-ship:recorded');
    // A batch forgotten here is settled (off the in-flight list); one that could not be is the next run's to settle.
    // The prune owed is marked before the forget and again after it: this forget runs after the batch's
    // shared hold, so a prune may finish (clearing the first mark) between the two.
    await trustedBatch(repo, summary.snapshot_id, tar.done, async () => { await markConfiguredPruneOwed(ctx); await clearInFlight(db, where.tenant, file); }, () => markConfiguredPruneOwed(ctx));
    if (summary.snapshot_id) run.snapshots.push(summary.snapshot_id);
    await removeArchived(ctx, where.container, names, folder);
    await clearInFlight(db, where.tenant, file);
    run.shipped += names.length;
    // The newest segment status shows is the running cluster's.
    const segments = files.filter((f) => /^[0-9A-F]{24}$/.test(f.name));
    if (!folder && segments.length > 0) run.newest = segments.at(-1);
    if (files.length < batchLimit) return true;
  }
}

/** The batches a killed run left in flight, settled (decideInFlight), each forget recorded with its cause. */
async function settleInFlight(ctx: Context, repo: PitrRepository, where: ShipWhere, current: () => Promise<string>): Promise<ShipResult['repaired']> {
  const db = await ctx.adminDb();
  const batches = await batchesInFlight(db, where.tenant);
  if (batches.length === 0) return [];
  const [wal, inVolume, incarnation] = await Promise.all([snapshotsTagged(ctx, repo, walTags(where.tenant)), archivedFiles(ctx, where.container), current()]);
  const repaired: ShipResult['repaired'] = [];
  // A batch of another incarnation (recover brought the list back with the admin database, and the
  // database was made anew): the files of its names in the volume are the new cluster's, not its own.
  // A batch of an aside folder is decided against that folder's files, as its own incarnation's.
  const decisions: ReturnType<typeof decideInFlight> = [];
  for (const folder of new Set(batches.map((b) => b.folder ?? ''))) {
    const of = batches.filter((b) => (b.folder ?? '') === folder);
    if (!folder) { decisions.push(...decideInFlight(of, wal, new Set(inVolume.map((f) => f.name)), ctx.clock.now(), incarnation)); continue; }
    const files = await archivedFiles(ctx, where.container, folder).catch(() => [] as Array<{ name: string }>);
    decisions.push(...decideInFlight(of, wal, new Set(files.map((f) => f.name)), ctx.clock.now()));
  }
  for (const d of decisions) {
    ctx.reporter.info(`WAL of ${where.tenant}: ${d.cause}`);
    if (d.forget.length > 0) {
      await markConfiguredPruneOwed(ctx);
      await repo.run(['forget', ...d.forget], { timeoutMs: repoQueryTimeoutMs, signal: ctx.signal });
      await db.withTransaction((client) => recordAudit(db, client, where.tenant, 'pitr.wal-batch-forgotten', null, { file: d.batch.file, snapshots: d.forget, files: d.batch.names.length, cause: d.cause }));
    }
    if (d.removeRest.length > 0) await removeArchived(ctx, where.container, d.removeRest, d.batch.folder ?? '');
    if (d.settled) await clearInFlight(db, where.tenant, d.batch.file);
    else await markReshipped(db, where.tenant, d.batch.file);
    if (d.forget.length > 0 || d.removeRest.length > 0) repaired.push({ file: d.batch.file, forgotten: d.forget, removed: d.removeRest.length, cause: d.cause });
  }
  return repaired;
}

/**
 * restic read to the end of the stream, but the tar must also have ended well: a tar that died
 * mid-stream (a killed `docker exec`) leaves restic a snapshot of a truncated tar, which every later
 * to-time restore would fail to extract. That snapshot is forgotten (its files stay in the volume
 * and ship again) before the tar's failure, the first cause, is thrown.
 */
export async function trustedBatch(repo: Pick<PitrRepository, 'run'>, snapshotId: string | undefined, tarDone: Promise<unknown>, onForgotten?: () => Promise<void>, beforeForget?: () => Promise<void>): Promise<void> {
  try {
    await tarDone;
  } catch (error) {
    if (snapshotId) {
      // Its own deadline, not the run's signal: an interrupted run must still not leave the batch behind.
      // beforeForget marks the prune that frees its data owed, before the forget (prune-interval.ts).
      const forget = async () => {
        await beforeForget?.();
        await repo.run(['forget', snapshotId], { timeoutMs: repoQueryTimeoutMs, signal: AbortSignal.timeout(repoQueryTimeoutMs) });
        await onForgotten?.();
      };
      await forget().catch((problem) => {
        if (error instanceof TenantctlError) error.details.push(`its truncated WAL snapshot ${snapshotId} could not be forgotten (${messageOf(problem)}): run restic forget ${snapshotId}, or to-time restores fail to extract it`);
      });
    }
    throw error;
  }
}

/**
 * The shipping state for `status`: written after every run (the newest segment only ever moves forward).
 * `rootTried: false` (shipWal asideOnly): what it shipped is counted, but the last error and when the
 * archive was last checked stay as they were: the archive root was not tried, so a failing shipment
 * (and its failing_since, the pitr.lagging alert's clock) is not shown healthy by it.
 */
export async function recordShipping(db: AdminDb, tenant: string, result: ShipResult | { error: unknown }, { rootTried = true } = {}): Promise<void> {
  if ('error' in result) {
    await db.pool.query(
      `INSERT INTO admin_wal_shipping (customer_id, last_error, checked_at) VALUES ($1, $2, now())
       ON CONFLICT (customer_id) DO UPDATE SET last_error = EXCLUDED.last_error, checked_at = now()`,
      [tenant, messageOf(result.error).slice(0, 500)],
    ).catch(db.unreachable);
    return;
  }
  await db.pool.query(
    `INSERT INTO admin_wal_shipping (customer_id, newest_segment, newest_archived_at, shipped_at, segments_shipped, waiting, last_error, checked_at)
     VALUES ($1, $2, $3, CASE WHEN $4::int > 0 THEN now() END, $4, $5, NULL, now())
     ON CONFLICT (customer_id) DO UPDATE SET
       newest_segment = coalesce(EXCLUDED.newest_segment, admin_wal_shipping.newest_segment),
       newest_archived_at = coalesce(EXCLUDED.newest_archived_at, admin_wal_shipping.newest_archived_at),
       shipped_at = coalesce(EXCLUDED.shipped_at, admin_wal_shipping.shipped_at),
       segments_shipped = admin_wal_shipping.segments_shipped + EXCLUDED.segments_shipped,
       waiting = EXCLUDED.waiting,
       last_error = CASE WHEN $6::boolean THEN NULL ELSE admin_wal_shipping.last_error END,
       checked_at = CASE WHEN $6::boolean THEN now() ELSE admin_wal_shipping.checked_at END`,
    [tenant, result.newest, result.newestArchivedAt, result.shipped, result.waiting, rootTried],
  ).catch(db.unreachable);
}

export interface ArchiveLag {
  newestSegment: string | null;
  newestArchivedAt: string | null;
  /** Age of the newest shipped segment (from when it was archived), seconds; null: nothing shipped yet. */
  lagSeconds: number | null;
  waiting: number;
  shippedAt: string | null;
  checkedAt: string | null;
  lastError: string | null;
}

export async function archiveLag(db: AdminDb, tenant: string, now: number): Promise<ArchiveLag> {
  const { rows } = await db.pool.query('SELECT * FROM admin_wal_shipping WHERE customer_id = $1', [tenant]).catch(db.unreachable);
  const r = rows[0];
  const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
  return {
    newestSegment: r?.newest_segment ?? null,
    newestArchivedAt: iso(r?.newest_archived_at),
    lagSeconds: r?.newest_archived_at ? Math.max(0, Math.round((now - (r.newest_archived_at as Date).getTime()) / 1000)) : null,
    waiting: r ? Number(r.waiting) : 0,
    shippedAt: iso(r?.shipped_at),
    checkedAt: iso(r?.checked_at),
    lastError: r?.last_error ?? null,
  };
}

/**
 * The archive lag for `status`: the recorded shipping state, with the files waiting in the volume
 * counted now when the tenant's PostgreSQL runs (one docker exec), else as the last shipment saw them.
 */
export async function archiveStatus(ctx: Context, tenant: { id: string; composeProject: string }, service: string): Promise<ArchiveLag & { waitingCountedNow: boolean }> {
  const lag = await archiveLag(await ctx.adminDb(), tenant.id, ctx.clock.now());
  const { stackContainer } = await import('../backups/containers.js');
  const c = await stackContainer(ctx.dockerHost, tenant.composeProject, service, ctx.signal).catch(ignoreFailure('status shows the lag recorded; an engine that does not answer shows no waiting count'));
  if (!c?.running) return { ...lag, waitingCountedNow: false };
  const files = await archivedFiles(ctx, c.id).catch(ignoreFailure('the recorded lag is shown without a live count'));
  return files ? { ...lag, waiting: files.length, waitingCountedNow: true } : { ...lag, waitingCountedNow: false };
}
