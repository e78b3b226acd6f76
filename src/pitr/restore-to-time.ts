import { createHash, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import type { Context } from '../context.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { LostLockError } from '../admin-db/database.js';
import { parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { holdTenant } from '../tenants/hold.js';
import { requireTenantFor } from '../tenants/day2-target.js';
import { readyTargetOf, waitForTenantReady } from '../tenants/wait-ready.js';
import { onContainers, runtimeFor } from '../runtime/runtime-for.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { tenantState } from '../backups/tenant-state.js';
import { corrupt } from '../backups/manifest.js';
import { listingCheckScript } from '../backups/data-listing.js';
import { startStack, stopClients } from '../backups/restore-data.js';
import { setModulesBackIn } from '../modules/set-back.js';
import { modulesToSet } from './backup-document.js';
import { requireRunning, stackContainer } from '../backups/containers.js';
import { composeStopTimeoutMs } from '../common/timeouts.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { archivingContainer, superuserSql, switchAndWaitArchived } from './archive.js';
import { recordShipping, shipWal } from './ship.js';
import { baseBefore, baseFileName } from './base-backup.js';
import { openPitrRepository, repoQueryTimeoutMs, repoTransferTimeoutMs, snapshotsTagged, walTags, type PitrRepository, type SnapshotSummary } from './repo.js';
import { walForBase, type WalChoice } from './wal-for-base.js';
import { ensureIncarnation, stagedIncarnationScript } from './incarnation.js';
import { setAsideArchive } from './archive-aside.js';
import { pitrService, walArchiveMount } from '../templates/wal-archive.js';
import { clearStageScript, dropScript, freeSpaceScript, inDataVolume, ownStagedScript, parseDfAvailable, stagingShortfall, putBackScript, recoverySettingsScript, swapScript, untarInto, type VolumeWhere } from './volume-steps.js';
import { applyPasswords } from './passwords.js';
import { refusalOf, stagedDataGuardScript, walTarExtractScript } from './staged-data-guard.js';
import { openRestoredHba, settleRestoredRoles, startServiceAlone } from './restored-roles.js';
import { shippingLock } from './ship-lock.js';
import { pitrBaseBackup } from './backup.js';
import { holdRepositoryShared } from './repo-hold.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import type { Piece } from '../backups/pieces.js';
import { dropOtherPieces, otherPiecesFor, otherPiecesStack, putOtherPiecesBack, stageOtherPieces, swapOtherPieces, type OtherPieceFiles } from '../backups/physical-other-pieces.js';

// `tenantctl restore <id> --to-time <timestamp> [--as <new-id>]`: the tenant's PostgreSQL as it was
// at that moment, from the newest base backup completed before it and the WAL shipped since, replayed
// by PostgreSQL itself (recovery_target_time, then promote). Under the tenant's lock, journaled (verb
// pitr-restore) before the first effect, each step recorded after its effect:
//   begun      intent: mode, target time, the names it will use
//   provisioned  (--as) the new tenant, made from the source's template and plan
//   shipped    the source's current WAL archived and shipped; the base and WAL snapshots chosen
//   staged     base backup and WAL extracted into the data volume beside the live data (it still runs)
//   pieces-staged  (a physical backup with other pieces: physical-other-pieces.ts) those staged too
//   stopped    the database service stopped (nothing writes while the data changes); with other
//              pieces, every other service first
//   swapped    the live data set aside in the volume, the staged data in its place
//   pieces-swapped  (other pieces) each one's live files set aside, the backup's in their place
//   starting / started   the database service alone started (socket only): PostgreSQL replays to the target and promotes
//   promoted   out of recovery; the recovery settings reset; the restored roles judged and settled,
//              the tenant's passwords set, its pg_hba.conf back (restored-roles.ts); then the rest of the stack started
//   proven     every service ready: the point of no return
// Before 'proven' any failure, Ctrl-C or a later command undoes it: the live data back, the stack
// started and proven ready (a tenant made by --as removed). Once the restored server has started
// it may have been written to: an undo then keeps that data aside in the volume and says so. From
// 'proven' on it is finished: the set-aside data and WAL copies are dropped.

export const pitrSteps = ['begun', 'provisioned', 'shipped', 'staged', 'pieces-staged', 'stopped', 'swapped', 'pieces-swapped', 'starting', 'started', 'promoted', 'proven'] as const;
export type PitrStep = (typeof pitrSteps)[number];
const reached = (step: string, than: PitrStep) => pitrSteps.indexOf(step as PitrStep) >= pitrSteps.indexOf(than);

export interface PitrIntent {
  mode: 'in-place' | 'new';
  source: string;
  targetTime: string;
  suffix: string;
  before: { status: string; updatedAt: string } | null;
  /** Recorded at 'shipped': where and from what. */
  where?: VolumeWhere;
  service?: string;
  base?: { snapshotId: string; completedAt: string };
  wal?: Array<{ id: string; path: string }>;
  /**
   * A physical backup restored as it is (restore-physical.ts): its self-contained tar is staged and
   * swapped in by these same steps, with no WAL shipped or replayed (targetTime is the backup's time).
   */
  physical?: PhysicalSource;
  /**
   * The WAL archive volume (pitr plans) and the incarnations of the two clusters that archive into it:
   * the live one's (recorded at 'shipped'), the staged one's ('staged'). Once a cluster is stopped,
   * what it archived is set aside under its own id (archive-aside.ts), never shipped as the other's.
   */
  archive?: { volume: string; live: string; restored?: string };
  /** The physical backup read (physical.backup again): at the top, where backupsInUse looks, so retention never prunes it mid-restore. */
  backup?: string;
  /**
   * A physical restore: the modules the tenant had at the backup (its tenant.json), set once it is
   * proven (completePitr). Absent for a to-time restore, and in intents older code wrote: modules
   * are then left as they are.
   */
  modules?: Array<{ key: string; enabled: boolean }>;
  /**
   * Recorded at 'shipped' (before any is staged): the target's pieces the physical backup holds
   * logically (crm's redis), as resolved then; an undo or a finish works from these.
   */
  others?: Piece[];
}

/** The physical backup a restore stages: its row, its tar's snapshot and path, its size. */
export interface PhysicalSource {
  backup: string; snapshotId: string; file: string; bytes: number;
  /** The tar's SHA-256 in the manifest: the staged stream is checked against it. */
  sha256?: string;
  /** files: `file` is the data directory's folder in the snapshot (restic dump makes it a tar), checked by its listing's SHA-256; `wal` the label and WAL tar. */
  layout?: 'files';
  listingSha256?: string;
  wal?: { snapshotId: string; file: string; sha256: string };
  /** The backup's pieces taken logically beside the cluster (physical-other-pieces.ts), each one's kind and file. */
  others?: OtherPieceFiles;
}

export interface PitrRestoreResult {
  id: string;
  source: string;
  mode: 'in-place' | 'new';
  targetTime: string;
  base: { snapshotId: string; completedAt: string };
  walSnapshots: number;
  /** The base backup taken of the restored tenant (null: it failed, said in a warning). */
  newBase: string | null;
  url: string | null;
  initialApiKey?: { id: string; prefix: string; key: string };
  durationMs: number;
}

export interface PitrRestoreInput {
  id: unknown;
  toTime: unknown;
  as?: unknown;
  yes?: boolean;
  confirm?: (question: string) => Promise<boolean>;
}

/** An ISO 8601 date-time with a zone (Z or ±hh:mm), in the past. */
export function parseTargetTime(raw: unknown, now: number): Date {
  const text = typeof raw === 'string' ? raw.trim() : '';
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
    throw usageError(`--to-time ${JSON.stringify(text)}: give an ISO 8601 date-time with its zone, e.g. 2026-12-06T11:30:00Z`);
  }
  const time = new Date(text.replace(' ', 'T'));
  if (Number.isNaN(time.getTime())) throw usageError(`--to-time ${text}: not a real date-time`);
  if (time.getTime() > now) throw usageError(`--to-time ${text} is in the future`);
  return time;
}

export async function restoreToTime(ctx: Context, input: PitrRestoreInput): Promise<PitrRestoreResult> {
  const started = ctx.clock.now();
  const source = parseTenantId(input.id);
  const target = input.as === undefined ? source : parseTenantId(input.as);
  const time = parseTargetTime(input.toTime, ctx.clock.now());
  const db = await ctx.adminDb();
  const release = await holdTenant(ctx, target);
  // Nothing ships the target's WAL while its data is replaced (a restored server archives a new
  // timeline before it is proven), and the source's is shipped by this run itself.
  const shipping: Array<() => Promise<void>> = [];
  try {
    shipping.push(await shippingLock(ctx, target));
    if (source !== target) shipping.push(await shippingLock(ctx, source));
    const registry = new TenantRegistry(db);
    const src = await requireTenantFor(ctx, source, 'be restored to a time', ['active']);
    if (!ctx.config.plans[src.record.plan as keyof typeof ctx.config.plans]?.pitr) {
      throw new TenantctlError('usage', `tenant ${source} is on plan ${src.record.plan}, which has point-in-time recovery off (plans.${src.record.plan}.pitr)`);
    }
    const repo = await openPitrRepository(ctx);
    const base = await baseBefore(db, source, repo.location.display, time);
    if (!base) throw new TenantctlError('notFound', `no base backup of ${source} completed before ${time.toISOString()} in ${repo.location.display}: tenantctl backup ${source} takes one (a to-time restore can reach only moments after a base backup)`);
    // A target in another incarnation than the base's, as the batches shipped so far tell: refused
    // before anything is recorded or made. (The WAL the run ships first is looked at again after it.)
    const live = await liveIncarnation(ctx, source);
    walChoice(source, base, await snapshotsTagged(ctx, repo, walTags(source)), time, undefined, live);
    const existing = await registry.get(target);
    let mode: PitrIntent['mode'] = 'in-place';
    if (target !== source) {
      if (existing && existing.status !== 'deprovisioned') throw new TenantctlError('conflict', `tenant ${target} exists (${existing.status}); restore --as makes a new tenant: choose an id that is free`);
      if (existing?.keptData) throw new TenantctlError('conflict', `tenant ${target} has kept data; restore --as makes a new tenant: choose an id that is free`);
      mode = 'new';
    } else {
      const question = `This replaces the database of ${source}, which is live, with its state at ${time.toISOString()}; its current data is kept until the restored tenant is proven ready. Type the tenant id to confirm: `;
      const confirmed = input.yes === true || (await input.confirm?.(question)) === true;
      if (!confirmed) throw new TenantctlError('refused', `restoring ${source} to ${time.toISOString()} replaces its live data: confirm on a terminal, or pass --yes`);
    }
    const journal = new OperationJournal(db);
    const op = await journal.begin<PitrIntent>({
      tenant: target, verb: 'pitr-restore', host: ctx.dockerHost.id,
      data: { mode, source, targetTime: time.toISOString(), suffix: randomBytes(4).toString('hex'), before: existing ? { status: existing.status, updatedAt: existing.updatedAt } : null },
    });
    try {
      await ctx.pause('pitr-restore:begun');
      let provisioned: Awaited<ReturnType<typeof import('../tenants/provision.js').provision>> | undefined;
      if (mode === 'new') {
        ctx.reporter.step(`provisioning ${target} to restore ${source} at ${time.toISOString()} into`);
        const { provision } = await import('../tenants/provision.js');
        provisioned = await provision(ctx, { id: target, name: target, plan: src.record.plan, template: src.record.template, with: src.record.profiles });
        await journal.step(op, 'provisioned');
        await ctx.pause('pitr-restore:provisioned');
      }
      const { walSnapshots } = await replaceWithTime(ctx, journal, op, repo, base);
      await completePitr(ctx, journal, op);
      // The restored server runs on a new timeline: a base backup of it, so later moments can be
      // reached too (recovery follows the base's own timeline). Its failure does not undo the restore.
      const newBase = await pitrBaseBackup(ctx, target).then((b) => b.base.snapshotId, (error) => {
        ctx.reporter.info(`warning: the base backup after the restore failed (${messageOf(error)}): run tenantctl backup ${target}; moments after this restore cannot be reached until one succeeds`);
        return null;
      });
      return {
        newBase,
        id: target, source, mode, targetTime: time.toISOString(), base: { snapshotId: base.snapshotId, completedAt: base.completedAt }, walSnapshots,
        url: provisioned?.url ?? src.record.appUrl ?? null, initialApiKey: provisioned?.initialApiKey, durationMs: ctx.clock.now() - started,
      };
    } catch (error) {
      throw await undoAfterFailure(ctx, journal, op, error);
    }
  } finally {
    for (const unlock of shipping.reverse()) await unlock();
    await release();
  }
}

/** physicalStartScript's exit when the staged cluster's major is not the live one's: a conflict (exit 5), not Docker failing. */
const majorMismatchExit = 5;

/**
 * A physical backup's tar, staged: it must be a cluster of the live server's major version (the
 * same PG_VERSION as the volume's own), and nothing of a running or recovering server's state
 * comes with it. Its backup_label and pg_wal make PostgreSQL replay to the backup's end on start.
 */
export const physicalStartScript = [
  '[ -s "$STAGED/PG_VERSION" ] || { echo "the physical backup was not extracted (no PG_VERSION)" >&2; exit 3; }',
  '[ -s "$STAGED/backup_label" ] || { echo "the physical backup has no backup_label: not a pg_basebackup" >&2; exit 3; }',
  `if [ -s PG_VERSION ] && [ "$(cat "$STAGED/PG_VERSION")" != "$(cat PG_VERSION)" ]; then echo "the backup is a PostgreSQL $(cat "$STAGED/PG_VERSION") cluster and the tenant runs PostgreSQL $(cat PG_VERSION): a physical backup starts only under its own major version" >&2; exit ${majorMismatchExit}; fi`,
  'rm -f "$STAGED/postmaster.pid" "$STAGED/recovery.signal" "$STAGED/standby.signal"',
  // pg_basebackup copied tenantctl's own stage and set-aside folders of the PGDATA it read: left in,
  // the swap's move of the stage would meet the live ones ("Directory not empty").
  "find \"$STAGED\" -mindepth 1 -maxdepth 1 -name '.tenantctl-*' -exec rm -rf -- {} +",
  // A backup from before the tenant's service uid changed holds the old owner's files.
  ownStagedScript,
  // Started on the backup's own timeline, it writes again the segment names its cluster went on to
  // write: a new incarnation (incarnation.ts), written by stagedIncarnationScript after this.
].join('\n');

/** The target tenant's stack as the steps see it. */
export async function stackOf(ctx: Context, id: string) {
  const t = await requireTenantFor(ctx, id, 'be restored to a time', ['active']);
  const db = await ctx.adminDb();
  const state = await tenantState(ctx, db, t, 'be restored to a time');
  const service = pitrService(state.template.block, state.template.name);
  const piece = state.pieces.find((p) => p.kind === 'postgres' && p.service === service)!;
  const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
  return { t, state, service, anyRole: piece.user ?? 'postgres', runtime, project: t.record.composeProject };
}

export async function replaceWithTime(ctx: Context, journal: OperationJournal, op: Operation<PitrIntent>, repo: PitrRepository, base: { snapshotId: string; startedAt: string; completedAt: string; bytes: number; incarnation?: string | null }): Promise<{ walSnapshots: number }> {
  const physical = op.data.physical;
  // A physical restore's steps pause under its own names (restore-physical:<step>).
  const verbName = physical ? 'restore-physical' : 'pitr-restore';
  const record = async (step: PitrStep, data?: Partial<PitrIntent>) => {
    await journal.step(op, step, data);
    await ctx.pause(`${verbName}:${step}`);
  };
  // A physical backup brings its own WAL: no archive volume needed, nothing shipped. Restored into
  // a new tenant it needs nothing of its source either (which may be stopped or gone: recover, --as).
  const serverOf = (project: string, service: string, tenant: string) => (physical ? requireRunning(ctx.dockerHost, project, service, tenant, ctx.signal) : archivingContainer(ctx, project, service, tenant));
  const src = physical && op.data.mode === 'new' ? undefined : await stackOf(ctx, op.data.source);
  const srcContainer = src && await serverOf(src.project, src.service, op.data.source);
  const wal = physical || !src || !srcContainer ? [] : await shipUntilNow(ctx, repo, op, src, srcContainer.id, base);

  const dst = op.data.mode === 'new' || !src ? await stackOf(ctx, op.tenant) : src;
  const container = op.data.mode === 'new' || !srcContainer ? await serverOf(dst.project, dst.service, op.tenant) : srcContainer;
  const dataDir = await superuserSql(ctx, container.id, dst.anyRole, 'SHOW data_directory', 'asking PostgreSQL for its data directory');
  return replaceData(ctx, record, op, repo, base, { dst, container, dataDir, wal });
}

/** The source's running database's incarnation (read, or made when it has none, as a shipment would), for the refusal before anything is recorded. */
async function liveIncarnation(ctx: Context, source: string): Promise<string | undefined> {
  const s = await stackOf(ctx, source);
  const c = await archivingContainer(ctx, s.project, s.service, source);
  return ensureIncarnation(ctx, c.id, s.anyRole);
}

/** Everything the source committed until now into the repository: the target time's WAL may still be in its archive volume, or not even archived yet. */
async function shipUntilNow(ctx: Context, repo: PitrRepository, op: Operation<PitrIntent>, src: { anyRole: string }, srcContainer: string, base: { snapshotId: string; startedAt: string; incarnation?: string | null }): Promise<Array<{ id: string; path: string }>> {
  ctx.reporter.step(`shipping the WAL of ${op.data.source} archived until now`);
  // PostgreSQL stops at a target time only on a commit record stamped after it: a quiet tenant has
  // none, and its recovery would end before the target (FATAL). A transaction id taken now commits
  // one, stamped after any target (targets are in the past), into the WAL switched and shipped below.
  await superuserSql(ctx, srcContainer, src.anyRole, 'SELECT pg_current_xact_id()', 'committing a transaction after the target time');
  await switchAndWaitArchived(ctx, srcContainer, src.anyRole);
  await recordShipping(await ctx.adminDb(), op.data.source, await shipWal(ctx, repo, { tenant: op.data.source, container: srcContainer, anyRole: src.anyRole }));
  // Every WAL batch of the base's incarnation shipped since the base began (a minute's slack for the
  // two clocks): the segments the base needs and those up to the target are among them; later ones
  // are not replayed. Another incarnation's are never extracted (wal-for-base.ts).
  const choice = walChoice(op.data.source, base, await snapshotsTagged(ctx, repo, walTags(op.data.source)), new Date(op.data.targetTime), ctx.reporter, await ensureIncarnation(ctx, srcContainer, src.anyRole));
  return choice.use.map((s) => ({ id: s.id, path: s.paths[0] ?? '/' }));
}

/** walForBase, its refusal thrown (exit 3: no base of the database that ran at the target), what it left out said. */
export function walChoice(tenant: string, base: { snapshotId: string; startedAt: string; incarnation?: string | null }, batches: readonly SnapshotSummary[], target: Date, reporter?: Context['reporter'], live?: string): WalChoice {
  const choice = walForBase({ tenant, base: { snapshotId: base.snapshotId, startedAt: base.startedAt, incarnation: base.incarnation ?? null }, batches, target, live });
  if (choice.refuse) throw new TenantctlError('notFound', choice.refuse);
  if (choice.leftOut > 0) reporter?.info(`left out ${choice.leftOut} WAL batch(es) of ${tenant} written by another incarnation of its database than the base backup's (the database was made anew; incarnation.ts)`);
  return choice;
}

async function replaceData(
  ctx: Context, record: (step: PitrStep, data?: Partial<PitrIntent>) => Promise<void>, op: Operation<PitrIntent>, repo: PitrRepository, base: { snapshotId: string; completedAt: string; bytes: number },
  { dst, container, dataDir, wal }: { dst: Awaited<ReturnType<typeof stackOf>>; container: { id: string; volumes: Record<string, string>; image: string }; dataDir: string; wal: Array<{ id: string; path: string }> },
): Promise<{ walSnapshots: number }> {
  const physical = op.data.physical;
  const volume = container.volumes[dataDir];
  if (!volume) throw new TenantctlError('conflict', `the data directory ${dataDir} of ${op.tenant} is not a named volume of its own; a to-time restore swaps the whole volume's content`);
  const where: VolumeWhere = { tenant: op.tenant, volume, image: container.image, suffix: op.data.suffix, dataDir };
  await requireRoomToStage(ctx, repo, where, base.bytes, wal.map((b) => b.id));
  const others = physical?.others ? otherPiecesFor(op.tenant, dst.state.pieces, physical.others) : [];
  // The live cluster's incarnation, known before it stops: what it archives until then is its own.
  const archiveVolume = container.volumes[walArchiveMount];
  const archive = archiveVolume ? { volume: archiveVolume, live: await ensureIncarnation(ctx, container.id, dst.anyRole) } : undefined;
  await record('shipped', { where, service: dst.service, base: { snapshotId: base.snapshotId, completedAt: base.completedAt }, wal, ...(others.length > 0 ? { others } : {}), ...(archive ? { archive } : {}) });

  ctx.reporter.step(`staging base backup ${base.snapshotId.slice(0, 8)} and ${wal.length} WAL batch(es) beside the live data of ${op.tenant}`);
  await inDataVolume(ctx, where, clearStageScript, 'clearing the stage');
  if (physical?.layout === 'files') await stageFileLevel(ctx, repo, where, physical);
  else await streamInto(ctx, repo, where, base.snapshotId, physical ? physical.file : `/${baseFileName}`, 'staged', physical && { backup: physical.backup, sha256: physical.sha256 });
  for (const batch of wal) await streamInto(ctx, repo, where, batch.id, batch.path, 'wal');
  if (physical) {
    await inDataVolume(ctx, where, physicalStartScript, 'checking the staged cluster (PG_VERSION)').catch((error: unknown) => {
      if (error instanceof TenantctlError && error.message.includes(`(exit ${majorMismatchExit})`)) throw new TenantctlError('conflict', error.message, { cause: error });
      throw error;
    });
  }
  // Nothing of the repository's that PostgreSQL reads as configuration or runs is started (staged-data-guard.ts).
  await inDataVolume(ctx, where, stagedDataGuardScript(), 'checking and cleaning the staged data directory').catch((error: unknown) => { throw refusalOf(error, restoredName(op)); });
  if (!physical) await inDataVolume(ctx, where, recoverySettingsScript(where, op.data.targetTime), 'writing the recovery settings');
  // In place, a to-time restore continues its base's history; --as and a physical backup begin their own
  // (written after the guard, which refuses links in the stage).
  const restoredIncarnation = (await inDataVolume(ctx, where, stagedIncarnationScript(randomBytes(16).toString('hex'), !physical && op.data.mode === 'in-place'), 'giving the staged cluster its incarnation')).trim();
  await record('staged', op.data.archive ? { archive: { ...op.data.archive, restored: restoredIncarnation } } : undefined);
  const logical = others.length > 0 ? otherPiecesStack(dst) : undefined;
  if (logical) {
    await stageOtherPieces(ctx, logical, others, physical!.backup, op.data.suffix);
    await record('pieces-staged');
  }

  // The database service alone: with it stopped nothing can write to it, and its clients reconnect
  // once it is back (readiness below proves they did). With other pieces (crm's Redis) every other
  // service stops first: their files are swapped too, and nothing may write to them meanwhile.
  if (logical) {
    ctx.reporter.step(`stopping ${logical.clients.join(', ')} of ${op.tenant} (nothing writes while its state changes)`);
    // The clients stopped (nothing writes to a piece while it is swapped); the database service next.
    await stopClients(ctx, logical);
  }
  ctx.reporter.step(`stopping the ${dst.service} service of ${op.tenant} (nothing writes while its database is swapped)`);
  await dst.runtime.stop([dst.service], { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
  await record('stopped');
  // What the live cluster archived since the shipment above (it ran on through staging and its stop)
  // ships under its own incarnation, not the restored cluster's (archive-aside.ts).
  if (op.data.archive) await setAsideArchive(ctx, where, op.data.archive.volume, op.data.archive.live);
  await ctx.pause(`${physical ? 'restore-physical' : 'pitr-restore'}:archive-set-aside`);
  await inDataVolume(ctx, where, swapScript, 'swapping the restored data in');
  await record('swapped');
  if (logical) {
    await swapOtherPieces(ctx, logical, others, op.data.suffix);
    await record('pieces-swapped');
  }
  await record('starting');
  ctx.reporter.step(physical ? `starting ${op.tenant} on backup ${physical.backup}: PostgreSQL replays the WAL inside it to the backup's end` : `starting ${op.tenant}: PostgreSQL replays the WAL to ${op.data.targetTime}`);
  // The database alone, on its socket only: its roles are judged and settled before anything logs in (restored-roles.ts).
  await startServiceAlone(ctx, dst.runtime, dst.service);
  await record('started');
  await waitPromoted(ctx, op.tenant, dst.project, dst.service, dst.anyRole);
  const restored = (await stackContainer(ctx.dockerHost, dst.project, dst.service, ctx.signal))!.id;
  await settleRestoredRoles(ctx, restored, dst.anyRole, dst.state.template.block, dst.service, restoredName(op));
  // Both modes: the cluster came back with the roles' verifiers of its backup's time, and the tenant's
  // services use today's passwords (a rotate-secrets since then would leave readiness failing forever).
  await applyPasswords(ctx, restored, dst.anyRole, dst.state.template.block, dst.service, dst.state.secrets);
  await openRestoredHba(ctx, restored, dst.anyRole, dataDir);
  await record('promoted');
  await startStack(ctx, { id: op.tenant, project: dst.project, target: dst.t.target, clients: [], runtime: dst.runtime });
  ctx.reporter.step('waiting until every service is ready');
  await waitForTenantReady(onContainers(ctx, dst.runtime), await readyTargetOf(ctx, dst.t.record, dst.state.rendered, dst.state.secrets));
  await record('proven');
  return { walSnapshots: wal.length };
}

/**
 * Staging writes the base and the WAL into the live tenant's data volume: refused (exit 5, nothing
 * staged) unless its filesystem has room for them and a margin, since a full disk PANICs the live
 * PostgreSQL. The WAL's size is what restic would restore of its batches.
 */
async function requireRoomToStage(ctx: Context, repo: PitrRepository, where: VolumeWhere, baseBytes: number, walIds: string[]): Promise<void> {
  const walBytes = walIds.length === 0 ? 0
    : Number((await repo.json<{ total_size?: number }>(['stats', '--mode', 'restore-size', ...walIds], { timeoutMs: repoQueryTimeoutMs, signal: ctx.signal })).total_size ?? 0);
  const free = parseDfAvailable(await inDataVolume(ctx, where, freeSpaceScript, 'measuring the free space of the data volume'));
  const short = stagingShortfall(free, baseBytes, walBytes);
  if (short > 0) {
    const mib = (n: number) => `${Math.ceil(n / 1024 / 1024)} MiB`;
    throw new TenantctlError('conflict', `not enough free space to stage the restore in volume ${where.volume}: ${mib(free)} free, the base backup (${mib(baseBytes)}) and WAL (${mib(walBytes)}) need ${mib(short)} more with the margin that keeps the live PostgreSQL from a full disk; free some space and run it again`);
  }
}

/**
 * A file-level physical backup staged: the data folder's snapshot (`restic dump` of a folder is a tar
 * of it, its path's three components stripped), its files' listing checked against the manifest's,
 * then backup_label, tablespace_map and the WAL segments into the stage's pg_wal (hashed as written).
 */
async function stageFileLevel(ctx: Context, repo: PitrRepository, where: VolumeWhere, physical: PhysicalSource): Promise<void> {
  if (!physical.wal || !physical.listingSha256) throw corrupt(physical.backup, 'its file-level piece has no WAL tar or listing');
  await streamInto(ctx, repo, where, physical.snapshotId, physical.file, 'staged', undefined, physical.file.split('/').filter(Boolean).length);
  await inDataVolume(ctx, where, listingCheckScript(physical.listingSha256), 'checking the staged files against the backup\'s listing').catch((error: unknown) => {
    if (error instanceof TenantctlError && error.message.includes('(exit 3)')) throw corrupt(physical.backup, error.message);
    throw error;
  });
  // Saved unread, then only backup_label, tablespace_map and WAL segments of it extracted (staged-data-guard.ts).
  await streamInto(ctx, repo, where, physical.wal.snapshotId, physical.wal.file, 'wal', { backup: physical.backup, sha256: physical.wal.sha256 }, 0, 'label-and-wal.tar');
  await inDataVolume(ctx, where, walTarExtractScript(), 'checking and extracting the backup\'s label and WAL').catch((error: unknown) => { throw refusalOf(error, physical.backup); });
}

/** What a refusal names: the physical backup, or the to-time restore's base backup. */
const restoredName = (op: Operation<PitrIntent>) => op.data.physical?.backup ?? `(base backup ${op.data.base?.snapshotId.slice(0, 8) ?? ''} of ${op.data.source})`;

/** `restic dump` of one file (or folder: a tar of it, `strip` leading components dropped) of a snapshot, streamed into a helper's tar in the data volume. */
async function streamInto(ctx: Context, repo: PitrRepository, where: VolumeWhere, snapshot: string, file: string, dir: 'staged' | 'wal', expected?: { backup: string; sha256?: string }, strip = 0, saveAs?: 'label-and-wal.tar'): Promise<void> {
  const untar = await untarInto(ctx, where, dir, `extracting ${file} of snapshot ${snapshot.slice(0, 8)}`, strip, saveAs);
  // Hashed on its way into tar (a physical backup's tar: the SHA-256 its manifest recorded), so what
  // is staged is what was backed up, checked before 'staged' is recorded.
  const hash = createHash('sha256');
  const hashing = new Transform({ transform(chunk: Buffer, _encoding, next) { hash.update(chunk); next(null, chunk); } });
  if (untar.stdin) {
    hashing.pipe(untar.stdin);
    // tar gone early (EPIPE): the error reaches restic's side, which stops the dump, as when it wrote to tar directly.
    untar.stdin.on('error', (error) => hashing.destroy(error));
  }
  try {
    // Shared hold: no prune removes the data of the snapshot while it is read.
    const held = await holdRepositoryShared(ctx);
    try {
      await repo.run(['dump', snapshot, file], { timeoutMs: repoTransferTimeoutMs, signal: ctx.signal, stdout: hashing });
    } finally {
      await held();
    }
    hashing.end();
  } catch (error) {
    untar.kill();
    await untar.done.catch(ignoreFailure('the dump\'s own failure is what is thrown'));
    throw error;
  }
  await untar.done;
  const got = hash.digest('hex');
  if (expected?.sha256 !== undefined && got !== expected.sha256) throw corrupt(expected.backup, `${file} read back from the repository with SHA-256 ${got}, and its manifest recorded ${expected.sha256} (restic check tells what is damaged)`);
}

/** The restored server out of recovery (it promotes at the target), its recovery settings reset. */
async function waitPromoted(ctx: Context, id: string, project: string, service: string, anyRole: string): Promise<void> {
  ctx.reporter.step(`waiting until PostgreSQL of ${id} has replayed to its target and promoted`);
  const container = await retryUntilDeadline(async () => {
    const c = await stackContainer(ctx.dockerHost, project, service, ctx.signal);
    if (!c?.running) return notYet(`the ${service} container is not running (recovery failed? tenantctl logs ${id} --service ${service})`);
    const answer = await superuserSql(ctx, c.id, anyRole, 'SELECT pg_is_in_recovery()', 'asking whether recovery ended').catch((error) => `error: ${messageOf(error)}`);
    return answer === 'f' ? done(c.id) : notYet(answer === 't' ? 'still replaying WAL' : answer);
  }, {
    what: `waiting for ${id}'s PostgreSQL to promote`, deadlineMs: ctx.config.healthDeadlineSeconds * 1000, clock: ctx.clock, signal: ctx.signal, initialDelayMs: 250, maxDelayMs: 1000,
    onDeadline: (why) => new TenantctlError('notReady', `the restored PostgreSQL of ${id} did not promote within ${ctx.config.healthDeadlineSeconds} s: ${why}`),
  });
  await superuserSql(ctx, container, anyRole, 'ALTER SYSTEM RESET restore_command', 'resetting the recovery settings');
  await superuserSql(ctx, container, anyRole, 'ALTER SYSTEM RESET recovery_target_time', 'resetting the recovery settings');
  await superuserSql(ctx, container, anyRole, 'ALTER SYSTEM RESET recovery_target_action', 'resetting the recovery settings');
  await superuserSql(ctx, container, anyRole, 'ALTER SYSTEM RESET recovery_target_timeline', 'resetting the recovery settings');
  await superuserSql(ctx, container, anyRole, 'SELECT pg_reload_conf()', 'reloading the settings');
}

/**
 * Past 'proven': the set-aside data and WAL copies dropped, a physical restore's modules set to the
 * backup's (those its intent recorded), the operation closed with its audit row. What could not be
 * dropped (the restored state is in place: never fatal) is said, kept in the operation's reason and
 * returned, so the caller's result names it too.
 */
export async function completePitr(ctx: Context, journal: OperationJournal, op: Operation<PitrIntent>): Promise<{ leftBehind: string[]; modulesChanged: string[] }> {
  const db = await ctx.adminDb();
  const left: string[] = [];
  if (op.data.where) {
    ctx.reporter.step(`dropping the data the restore replaced in ${op.tenant}`);
    await inDataVolume(ctx, op.data.where, dropScript, 'dropping the replaced data').catch((error) => {
      left.push(`the replaced cluster in volume ${op.data.where!.volume} (.tenantctl-pitr-${op.data.suffix}-*) could not be dropped: ${messageOf(error)}`);
      ctx.reporter.info(`could not drop the replaced data: ${messageOf(error)}`);
    });
  }
  if (op.data.others?.length) {
    const names = op.data.others.map((p) => p.name).join(', ');
    const dst = await stackOf(ctx, op.tenant).catch((error) => {
      left.push(`what the restore replaced of ${names} (.tenantctl-replaced-${op.data.suffix}-<piece> in each one's volume) could not be dropped: ${messageOf(error)}; remove it by hand`);
      ctx.reporter.info(left[left.length - 1]!);
    });
    if (dst) left.push(...await dropOtherPieces(ctx, otherPiecesStack(dst), op.data.others, op.data.suffix));
  }
  // Only from the intent (a finish after a kill reads nothing of the backup); none recorded: left as they are.
  const modules = modulesToSet(op.data);
  // Set in the close's transaction: the modules, their audit rows, backup.restored naming them and the
  // close commit together (a kill leaves all or none; a resumed run finds and names the same ones).
  let modulesChanged: string[] = [];
  await journal.finish(op, 'completed', left.length > 0 ? `completed; left behind: ${left.join('; ')}` : null, async (client) => {
    if (modules) modulesChanged = await setModulesBackIn(db, client, op.tenant, modules);
    await (op.data.physical
      ? recordAudit(db, client, op.tenant, 'backup.restored', null, { from: op.data.source, backup: op.data.physical.backup, method: 'physical', mode: op.data.mode, ...(modules ? { modulesChanged } : {}) })
      : recordAudit(db, client, op.tenant, 'backup.restored-to-time', null, { from: op.data.source, targetTime: op.data.targetTime, base: op.data.base?.snapshotId, mode: op.data.mode }));
  });
  return { leftBehind: left, modulesChanged };
}

/** Before 'proven': the live data back and proven ready (in-place), or the tenant made by --as removed. Returns what was kept. */
async function undoPitr(ctx: Context, journal: OperationJournal, op: Operation<PitrIntent>, reason: string): Promise<boolean> {
  let kept = false;
  let othersKept: string[] = [];
  if (op.data.mode === 'in-place') {
    if (op.data.where) {
      const dst = await stackOf(ctx, op.tenant);
      if (reached(op.step, 'staged')) {
        ctx.reporter.step(`stopping the ${dst.service} service of ${op.tenant} to put its own data back`);
        await dst.runtime.stop([op.data.service ?? dst.service], { timeoutMs: composeStopTimeoutMs, signal: ctx.signal });
      }
      // The restored server may have archived (its new timeline): under its own incarnation, not the live one's put back.
      if (reached(op.step, 'starting') && op.data.archive?.restored) await setAsideArchive(ctx, op.data.where, op.data.archive.volume, op.data.archive.restored);
      ctx.reporter.step(`putting the data of ${op.tenant} back as it was`);
      kept = (await inDataVolume(ctx, op.data.where, putBackScript(reached(op.step, 'starting')), 'putting the live data back')).includes('kept');
      // A physical backup's other pieces (crm's Redis) back too, from whatever the restore got to.
      if (op.data.others?.length) othersKept = await putOtherPiecesBack(ctx, otherPiecesStack(dst), op.data.others, op.data.suffix, reached(op.step, 'starting'));
      ctx.reporter.step(`starting ${op.tenant} on its own data`);
      await startStack(ctx, { id: op.tenant, project: dst.project, target: dst.t.target, clients: [], runtime: dst.runtime });
      await waitForTenantReady(onContainers(ctx, dst.runtime), await readyTargetOf(ctx, dst.t.record, dst.state.rendered, dst.state.secrets));
    }
  } else if (await provisionTouched(ctx, op)) {
    const { deprovision } = await import('../tenants/deprovision.js');
    ctx.reporter.step(`removing ${op.tenant} again (provisioned for this restore)`);
    await deprovision(ctx, { id: op.tenant, confirmed: true, keepData: false }).catch((error) => {
      if (!(error instanceof TenantctlError && error.kind === 'notFound')) throw error;
    });
  }
  const keptOthers = othersKept.length > 0 ? `; kept the restored ${othersKept.join(', ')}` : '';
  await journal.finish(op, 'undone', kept ? `${reason}; kept what the restored server held in its volume (${op.data.where?.volume}: .tenantctl-pitr-${op.data.suffix}-restored)${keptOthers}` : `${reason}${keptOthers}`);
  if (othersKept.length > 0) ctx.reporter.info(`the restored stack of ${op.tenant} had started: what it held is kept, not dropped: ${othersKept.join(', ')}`);
  return kept;
}

async function provisionTouched(ctx: Context, op: Operation<PitrIntent>): Promise<boolean> {
  const now = await new TenantRegistry(await ctx.adminDb()).get(op.tenant);
  if (!now) return false;
  const before = op.data.before;
  return !(before && now.status === before.status && now.updatedAt === before.updatedAt);
}

export async function undoAfterFailure(ctx: Context, journal: OperationJournal, op: Operation<PitrIntent>, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  const lost = first instanceof LostLockError ? first : await journal.db.locksProven();
  if (lost) {
    first.details.push(`nothing was undone (the tenant lock was lost); the restore stopped at step ${op.step}, and the next command on ${op.tenant} finishes or undoes it`);
    return first;
  }
  const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
  try {
    const now = await journal.reread(op);
    if (now.state !== 'running') return first;
    if (reached(now.step, 'proven')) {
      await completePitr(quiet, journal, now);
      first.details.push(`the restore had been proven ready: it was finished (${op.tenant} runs on its state at ${op.data.targetTime})`);
      return first;
    }
    const kept = await undoPitr(quiet, journal, now, first.message);
    first.details.push(op.data.mode === 'in-place' ? `undone: ${op.tenant} runs on its own data again, proven ready` : `undone: ${op.tenant}, provisioned for this restore, is removed again`);
    if (kept) first.details.push(`the restored server had started, so what it held is kept in volume ${op.data.where?.volume} (.tenantctl-pitr-${op.data.suffix}-restored) for you to look at`);
  } catch (problem) {
    first.details.push(`settling the restore failed too: ${messageOf(problem)}; the journal keeps it (step ${op.step}): the next command on ${op.tenant}, or tenantctl doctor --fix, tries again`);
  }
  return first;
}

/** Settles a to-time restore a killed run left: finished from 'proven', else undone. */
export async function resumePitrRestore(ctx: Context, op: Operation<PitrIntent>): Promise<'finished' | 'undone'> {
  const journal = new OperationJournal(await ctx.adminDb());
  if (reached(op.step, 'proven')) {
    await completePitr(ctx, journal, op);
    // The base backup the interrupted run would have taken of the new timeline is not taken here:
    // this runs inside another command, under its lock, and a backup may take long.
    // A physical restore takes no base backup (its plan has no pitr): nothing to warn of.
    if (!op.data.physical) ctx.reporter.info(`warning: the to-time restore of ${op.tenant} was finished without its base backup of the restored timeline: run tenantctl backup ${op.tenant}; moments after the restore cannot be reached until one succeeds`);
    return 'finished';
  }
  const kept = await undoPitr(ctx, journal, op, `interrupted at step ${op.step}; undone by a later command`);
  if (kept) ctx.reporter.info(`the restored server of ${op.tenant} had started: what it held is kept in volume ${op.data.where?.volume} (.tenantctl-pitr-${op.data.suffix}-restored)`);
  return 'undone';
}
