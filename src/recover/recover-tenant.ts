import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type pg from 'pg';
import type { Context } from '../context.js';
import { LostLockError, type AdminDb } from '../admin-db/database.js';
import type { DockerHost } from '../engine/docker-host.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { TenantRegistry } from '../tenants/registry.js';
import { holdTenant } from '../tenants/hold.js';
import { tenantPaths } from '../tenants/files.js';
import { stopTenant } from '../tenants/lifecycle.js';
import { revokeApiKeysById } from '../api-keys/store.js';
import { projectLabel, removeStack } from '../stack/removal.js';
import { objectsByLabel } from '../engine/docker.js';
import { listModules } from '../modules/store.js';
import { dropRestoreLeftovers, replaceData, restoreSteps, type RestoreIntent } from '../backups/restore.js';
import { setModulesBack } from '../modules/set-back.js';
import { putRowBack, type SavedTenant } from '../hosts/move-record.js';
import { contextOn, dockerHostNamed } from '../hosts/resolve.js';
import type { BackupScope, TenantBackupSource } from './tenant-backups.js';
import { describeAge, type BackupOrigin, type ConsideredBackup, type SkippedBackup } from './backup-candidates.js';
import type { BackupManifest, ManifestPiece } from '../backups/manifest.js';
import type { Piece } from '../backups/pieces.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { physicalPiecesProblem } from './physical-backup.js';
import { declaredPieces } from '../backups/pieces.js';
import { dropOtherPieces, otherPiecesStack } from '../backups/physical-other-pieces.js';
import type { Placement } from './fit.js';
import { pitrOn } from '../pitr/backup.js';
import { pitrSteps, replaceWithTime, stackOf, type PitrIntent } from '../pitr/restore-to-time.js';
import { dropScript, inDataVolume, restoreHelperName } from '../pitr/volume-steps.js';
import { imageMajor, majorMismatch, templateServiceImage } from '../pitr/image-major.js';

// One tenant brought back by `tenantctl recover`, under its lock, journaled (admin_operations, verb
// 'recover') before its first effect and after each step:
//   begun             intent: the recovery run, the host, the backup, the row's status before
//   detached          the row (as the admin snapshot had it) saved in the journal and marked
//                     deprovisioned, its allocations on the lost machine released, in one transaction
//   restore:*         provisioned on the host from the row's template and plan, the backup's data
//                     staged, swapped, started and proven ready (backups/restore.ts replaceData)
//   (physical)        a physical backup instead: after restore:provisioned, the physical restore's
//                     own steps shipped, staged, stopped, swapped, starting, started, promoted (the
//                     tenant's own passwords set on the restored roles), proven (pausing as
//                     restore-physical:<step>; pitr/restore-to-time.ts replaceWithTime), the new
//                     tenant's empty cluster set aside in its volume and dropped once proven
//   restored          the key that provision made revoked (the customer's own keys were never
//                     touched), the modules the backup had
//   settled           as it was: a stopped tenant stopped, a suspended one stopped and suspended
// Killed before 'restore:proven' ('proven' for a physical one), the next command on the tenant (or recover run again) undoes it:
// what provision made on the host is removed and the row goes back as saved, so the next recover
// starts it over; from 'restore:proven' on it is finished. A tenant whose recover of this run is
// completed is never made twice.

export interface RecoverIntent extends RestoreIntent, Partial<SavedTenant> {
  /** The recovery run (recover.ts) this is part of. */
  run: string;
  statusBefore: string;
  hostBefore: string;
  /** The key provision made (revoked once the tenant is back). */
  targetKey?: string;
  /** Where the backup came from: the restored admin database's record, or the repository alone (newer than the admin snapshot). */
  backupOrigin?: BackupOrigin;
  backupTime?: string;
  /** A physical backup: what is staged, and the physical restore's own records (where, service; targetTime: the backup's time). */
  physical?: PitrIntent['physical'];
  targetTime?: string;
  where?: PitrIntent['where'];
  service?: string;
  /** A physical backup's other pieces (crm's Redis) as the restore resolved them at 'shipped': what they set aside goes once proven. */
  others?: Piece[];
}

export interface TenantOutcome {
  id: string;
  /** not-placed: the host it would go on does not answer, or has no free ports, subnet or room for its restore (fit.ts); nothing of it was made. */
  outcome: 'recovered' | 'already-recovered' | 'failed' | 'skipped' | 'not-placed';
  status?: string;
  host?: string;
  backup?: string;
  /** admin-record: a backup the admin snapshot knew; repository: one found in the repository alone (taken after it). */
  source?: BackupOrigin;
  /** When the backup's last file was written, and how much newer that is than the admin snapshot (negative: older). */
  backupTime?: string;
  newerThanAdminSnapshotMs?: number;
  /** Newer backups passed over (partial, failed, not verifying), each with why. */
  passedOver?: SkippedBackup[];
  /** Every backup looked at for it: the one chosen, those passed over (why), those older never read. */
  considered?: ConsideredBackup[];
  /** The chosen backup's kind: logical (pg_restore of its dumps) or physical (the PostgreSQL cluster's files). */
  method?: 'logical' | 'physical';
  durationMs?: number;
  reason?: string;
}

/** The steps of a recover in order: a physical one goes from restore:provisioned through the physical restore's steps. */
const stepsOf = (op: Pick<Operation<RecoverIntent>, 'data'>) => (op.data.physical
  ? ['begun', 'detached', 'restore:provisioned', ...pitrSteps.slice(pitrSteps.indexOf('shipped')), 'restored', 'settled']
  : ['begun', 'detached', ...restoreSteps.slice(1).map((s) => `restore:${s}`), 'restored', 'settled']);
const reached = (op: Pick<Operation<RecoverIntent>, 'data' | 'step'>, than: string) => {
  const order = stepsOf(op);
  return order.indexOf(op.step) >= order.indexOf(than);
};
/** The step from which a recover is finished, never undone: its tenant proven ready on the backup's data. */
const provenStep = (op: Pick<Operation<RecoverIntent>, 'data'>) => (op.data.physical ? 'proven' : 'restore:proven');

export async function recoverTenant(ctx: Context, run: string, id: string, target: DockerHost, backups: TenantBackupSource, scope: Omit<BackupScope, 'host' | 'run'>, placement?: Placement): Promise<TenantOutcome> {
  const started = ctx.clock.now();
  const release = await holdTenant(ctx, id); // settles what a killed recover of it left first
  try {
    const db = await ctx.adminDb();
    if (await recoveredIn(db, run, id)) return { id, outcome: 'already-recovered' };
    const record = await new TenantRegistry(db).require(id);
    // Fit first, before anything of it is made: the host answers...
    const silent = await placement?.answers(target);
    if (silent) return { id, outcome: 'not-placed', status: record.status, host: target.id, reason: `not placed: ${silent}`, durationMs: ctx.clock.now() - started };
    // A host that holds anything of the project is not recovered onto: that may be the tenant itself,
    // alive (asked before its ports: a live tenant holds its own, and "no port free" would have the
    // operator free them, i.e. stop it).
    const there = await objectsByLabel(target, projectLabel(record.composeProject), ctx.signal);
    if (there.containers.length + there.volumes.length > 0) {
      return { id, outcome: 'skipped', status: record.status, reason: `${target.id} holds ${there.containers.length} containers and ${there.volumes.length} volumes of ${record.composeProject}: not touched (remove them, or recover onto another --host)` };
    }
    // ...and its ports and a subnet are free there.
    const unfit = await placement?.allocations(target, record);
    if (unfit) return { id, outcome: 'not-placed', status: record.status, host: target.id, reason: `not placed: ${unfit}`, durationMs: ctx.clock.now() - started };
    // A physical backup is verified against the tenant provision will make: its pieces (the template's
    // state for the row's profiles) and its major (the template's PostgreSQL image); one that does not
    // fit is passed over with why, and an older backup of either kind taken instead.
    const physicalProblem = async (manifest: BackupManifest, piece: ManifestPiece) => {
      const template = await loadTenantTemplate(ctx, record);
      return physicalPiecesProblem(manifest, declaredPieces(template, record.profiles)) ?? await physicalMajorMismatch(ctx, target, record.template, manifest.id, piece);
    };
    const found = await backups.latest(ctx, id, { ...scope, host: record.host, run, plan: { name: record.plan, pitr: pitrOn(ctx, record.plan) }, physicalProblem });
    if (!found || !('id' in found)) {
      const passedOver = found?.skipped ?? [];
      return { id, outcome: 'failed', status: record.status, passedOver, considered: found?.considered ?? [], reason: passedOver.length === 0 ? 'no backup of it in the repository' : `no complete backup of it verifies (${passedOver.length} passed over: ${passedOver.map((p) => `${p.backup}: ${p.reason}`).join('; ')})` };
    }
    const backup = found;
    const chosen = { source: backup.origin, method: backup.method, backupTime: backup.time, newerThanAdminSnapshotMs: backup.newerThanAdminSnapshotMs, passedOver: backup.skipped, considered: backup.considered };
    // Room on the host for its restore, by the backup's size (shared out among the run's tenants on that host).
    const noRoom = await placement?.room(target, backup.bytes);
    if (noRoom) return { id, outcome: 'not-placed', status: record.status, host: target.id, backup: backup.id, ...chosen, reason: `not placed: ${noRoom}`, durationMs: ctx.clock.now() - started };
    const journal = new OperationJournal(db);
    const op = await journal.begin<RecoverIntent>({
      tenant: id, verb: 'recover', host: target.id,
      data: {
        run, statusBefore: record.status, hostBefore: record.host, mode: 'new', backup: backup.id, dir: backup.dir, source: id, backupOrigin: backup.origin, backupTime: backup.time,
        // The modules as the registry had them (provision below enables the plan's defaults): put back once it is proven.
        suffix: randomBytes(4).toString('hex'), before: null, modules: (await listModules(db, id)).map((m) => ({ key: m.key, enabled: m.enabled })),
        ...(backup.physical ? { physical: backup.physical.source, targetTime: backup.physical.createdAt } : {}),
      },
    });
    try {
      await ctx.pause('recover:begun');
      await journal.step(op, 'detached', {}, (client) => detach(db, client, id, run));
      await rm(tenantPaths(ctx.config.customersDir, id).dir, { recursive: true, force: true });
      await ctx.pause('recover:detached');
      const onTarget = contextOn(ctx, target);
      ctx.reporter.step(`provisioning ${id} on ${target.id} to restore ${backup.method} backup ${backup.id} into (${backup.origin === 'repository' ? 'found in the repository, ' : ''}${describeAge(backup.newerThanAdminSnapshotMs)})`);
      const { provision } = await import('../tenants/provision.js');
      const provisioned = await provision(onTarget, { id, name: record.name, plan: record.plan, template: record.template, with: record.profiles });
      await journal.step(op, 'restore:provisioned', { targetKey: provisioned.initialApiKey?.id });
      await ctx.pause('restore:provisioned');
      if (backup.physical) {
        // The physical restore's steps on the new tenant (its source is the backup alone: nothing runs of the lost one).
        const at = backup.physical.createdAt;
        await replaceWithTime(onTarget, journal, op as unknown as Operation<PitrIntent>, scope.repo, { snapshotId: backup.physical.source.snapshotId, startedAt: at, completedAt: at, bytes: backup.physical.source.bytes });
      } else {
        await replaceData(onTarget, journal, op, id, { prefix: 'restore:' });
      }
    } catch (error) {
      throw await undoAfterFailure(ctx, op, error, target);
    }
    await finishRecover(ctx, journal, op, target);
    return { id, outcome: 'recovered', status: op.data.statusBefore, host: target.id, backup: backup.id, ...chosen, durationMs: ctx.clock.now() - started };
  } finally {
    await release();
  }
}

async function recoveredIn(db: AdminDb, run: string, id: string): Promise<boolean> {
  const { rows } = await db.pool.query(
    "SELECT 1 FROM admin_operations WHERE customer_id = $1 AND verb = 'recover' AND state = 'completed' AND data->>'run' = $2",
    [id, run],
  ).catch(db.unreachable);
  return rows.length > 0;
}

/** The row saved as the snapshot had it, then marked deprovisioned, its allocations on the lost machine released. */
async function detach(db: AdminDb, client: pg.ClientBase, id: string, run: string): Promise<SavedTenant> {
  const row = (await client.query('SELECT to_jsonb(c) AS row, status, host FROM admin_customers c WHERE id = $1 FOR UPDATE', [id])).rows[0];
  if (!row) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  const savedAllocations = (await client.query('SELECT COALESCE(jsonb_agg(to_jsonb(a)), \'[]\') AS a FROM admin_allocations a WHERE customer_id = $1', [id])).rows[0].a;
  await client.query('DELETE FROM admin_allocations WHERE customer_id = $1', [id]);
  await client.query("UPDATE admin_customers SET status = 'deprovisioned', status_reason = $2, updated_at = now() WHERE id = $1", [id, `being recovered (run ${run})`]);
  await recordAudit(db, client, id, 'recover.started', { host: row.host, status: row.status }, { run });
  return { savedRow: row.row, savedAllocations };
}

/** Proven ready: what the restore replaced dropped, provision's key revoked, modules as backed up, then its status as before. */
async function finishRecover(ctx: Context, journal: OperationJournal, op: Operation<RecoverIntent>, target: DockerHost): Promise<void> {
  const id = op.tenant;
  const db = journal.db;
  const onTarget = contextOn(ctx, target);
  if (!reached(op, 'restored')) {
    // A physical restore set the new tenant's own (empty) cluster aside in its volume: dropped now.
    if (op.data.physical && op.data.where) {
      await inDataVolume(onTarget, op.data.where, dropScript, 'dropping the cluster the restore replaced');
      // Its other pieces (crm's Redis) set the new tenant's empty ones aside too: dropped (a failure is said, never fatal).
      if (op.data.others?.length) {
        const dst = await stackOf(onTarget, id).catch((error: unknown) => ctx.reporter.info(`could not drop what the restore replaced of ${op.data.others!.map((p) => p.name).join(', ')} in ${id}: ${messageOf(error)}; remove it by hand`));
        if (dst) await dropOtherPieces(onTarget, otherPiecesStack(dst), op.data.others, op.data.suffix);
      }
    } else await dropRestoreLeftovers(onTarget, op);
    await setModulesBack(db, id, op.data.modules);
    await journal.step(op, 'restored', {}, async (client) => {
      if (op.data.targetKey) await revokeApiKeysById(db, client, id, [op.data.targetKey]);
    });
    await ctx.pause('recover:restored');
  }
  if (!reached(op, 'settled')) {
    if (op.data.statusBefore === 'stopped' || op.data.statusBefore === 'suspended') {
      ctx.reporter.step(`stopping ${id}: it was ${op.data.statusBefore}`);
      await stopTenant(onTarget, id);
    }
    await journal.step(op, 'settled', {}, (client) => statusAsSaved(client, id, op.data.savedRow ?? {}));
  }
  await journal.finish(op, 'completed', null, (client) => recordAudit(db, client, id, 'recover.completed', { host: op.data.hostBefore }, { host: target.id, backup: op.data.backup, status: op.data.statusBefore, run: op.data.run }));
}

/** The status columns (and a suspension's) put back as the admin snapshot had them. */
async function statusAsSaved(client: pg.ClientBase, id: string, saved: Record<string, unknown>): Promise<void> {
  const wanted = ['status', 'status_reason', 'suspension_reason', 'suspension_public_message', 'suspended_at', 'suspended_by', 'deprovision_warned_at'];
  const { rows } = await client.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'admin_customers' AND column_name = ANY($1::text[])", [wanted]);
  const columns = rows.map((r) => `"${r.column_name}"`);
  await client.query(
    `UPDATE admin_customers SET (${columns.join(', ')}) = (SELECT ${columns.join(', ')} FROM jsonb_populate_record(NULL::admin_customers, $2)), updated_at = now() WHERE id = $1`,
    [id, JSON.stringify(saved)],
  );
}

async function undoAfterFailure(ctx: Context, op: Operation<RecoverIntent>, error: unknown, target: DockerHost): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError(ctx.signal.aborted ? 'interrupted' : 'internal', messageOf(error), { cause: error });
  // Only under a lock still ours: another tenantctl may be working on the tenant now.
  const lost = first instanceof LostLockError ? first : await (await ctx.adminDb()).locksProven();
  if (lost) {
    first.details.push(`nothing was undone (${lost === first ? 'the tenant lock was lost' : lost.message}); the recover of ${op.tenant} stopped at step ${op.step}, and the next command on it settles it from the journal`);
    return first;
  }
  // The undo runs to its end even after Ctrl-C: a signal of its own, no pause points.
  const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
  try {
    // Interrupted once proven ready on the backup's data (e.g. Ctrl-C at its last pause): finished, never undone.
    const journal = new OperationJournal(await ctx.adminDb());
    const now = await journal.reread(op);
    if (now.state !== 'running') return first;
    if (reached(now, provenStep(now))) {
      await finishRecover(quiet, journal, now, target);
      first.details.push(`${op.tenant} had been proven ready on backup ${op.data.backup}: its recover was finished, not undone`);
      return first;
    }
    await undoRecover(quiet, now, first.message);
    first.message = `recover of ${op.tenant} failed: ${first.message}; undone (its record is as the admin snapshot had it: recover again to retry)`;
  } catch (problem) {
    first.details.push(`undoing: ${messageOf(problem)}`);
  }
  return first;
}

/** What this recover made on the host removed, the row put back as saved (allocations included), the operation undone. */
async function undoRecover(ctx: Context, op: Operation<RecoverIntent>, reason: string): Promise<void> {
  const db = await ctx.adminDb();
  const journal = new OperationJournal(db);
  const id = op.tenant;
  ctx.reporter.step(`undoing the recover of ${id}`);
  if (reached(op, 'detached')) {
    const target = await dockerHostNamed(ctx, db, op.host);
    if (!target) throw new TenantctlError('conflict', `the recover of ${id} worked on Docker host ${op.host}, which this environment cannot reach`);
    const record = await new TenantRegistry(db).require(id);
    // The host held nothing of the project when this recover began (checked before 'begun'): whatever is there now is its own,
    // a physical restore's helper on its data volume (one a kill left running) too.
    if (op.data.physical) await removeRestoreHelper(target, id, op.data.suffix);
    await removeStack(target, { project: record.composeProject, file: '' }, { keepData: false, onProgress: ctx.reporter.detail });
    await rm(tenantPaths(ctx.config.customersDir, id).dir, { recursive: true, force: true });
    await journal.finish(op, 'undone', reason, async (client) => {
      await putRowBack(db, client, id, op.data as Required<SavedTenant>, { sourceHost: op.data.hostBefore, targetHost: op.host, reason });
      if (op.data.targetKey) await revokeApiKeysById(db, client, id, [op.data.targetKey]);
    });
    return;
  }
  await journal.finish(op, 'undone', reason);
}

/** Settles a recover a killed run left: finished once the tenant was proven ready, else undone. */
export async function resumeRecover(ctx: Context, op: Operation<RecoverIntent>): Promise<'finished' | 'undone'> {
  if (reached(op, provenStep(op))) {
    const target = await dockerHostNamed(ctx, await ctx.adminDb(), op.host);
    if (!target) throw new TenantctlError('conflict', `an interrupted recover of ${op.tenant} needs Docker host ${op.host}, which this environment cannot reach`);
    await finishRecover(ctx, new OperationJournal(await ctx.adminDb()), op, target);
    return 'finished';
  }
  await undoRecover(ctx, op, `interrupted at step ${op.step}, before ${op.tenant} was proven ready; undone by a later command`);
  return 'undone';
}

/**
 * Why a physical backup's cluster cannot start on the image the tenant's template runs for its
 * PostgreSQL service on `target` (undefined: it can, or that image is not there to ask yet:
 * provision brings it, and the staged PG_VERSION is compared with the new volume's before the swap).
 */
async function physicalMajorMismatch(ctx: Context, target: DockerHost, template: string, backup: string, piece: ManifestPiece): Promise<string | undefined> {
  if (piece.major === undefined) return undefined;
  const image = await templateServiceImage(ctx, template, piece.service);
  if (!image) return undefined;
  const runs = await imageMajor(ctx, target, image);
  if (runs.major === undefined) ctx.reporter.info(`the PostgreSQL major of ${image} on ${target.id} is not known before provisioning (${runs.why}): the staged cluster's PG_VERSION is checked instead`);
  return majorMismatch(backup, piece.major, piece.image, runs, `template ${template}'s ${piece.service} service`);
}

/** The physical restore's helper container on the tenant's data volume (pitr/volume-steps.ts), removed with any anonymous volume it has (-v): its volume is removed next. */
async function removeRestoreHelper(target: DockerHost, id: string, suffix: string): Promise<void> {
  const name = restoreHelperName(id, suffix);
  if ((await target.docker(['ps', '-aq', '--filter', `name=^${name}$`])).trim() !== '') await target.docker(['rm', '-fv', name]);
}
