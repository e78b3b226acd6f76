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
import { dropRestoreLeftovers, replaceData, restoreModules, restoreSteps, type RestoreIntent } from '../backups/restore.js';
import { putRowBack, type SavedTenant } from '../hosts/move-record.js';
import { contextOn, dockerHostNamed } from '../hosts/resolve.js';
import type { BackupScope, TenantBackupSource } from './tenant-backups.js';
import { describeAge, type BackupOrigin, type ConsideredBackup, type SkippedBackup } from './backup-candidates.js';
import type { Placement } from './fit.js';

// One tenant brought back by `tenantctl recover`, under its lock, journaled (admin_operations, verb
// 'recover') before its first effect and after each step:
//   begun             intent: the recovery run, the host, the backup, the row's status before
//   detached          the row (as the admin snapshot had it) saved in the journal and marked
//                     deprovisioned, its allocations on the lost machine released, in one transaction
//   restore:*         provisioned on the host from the row's template and plan, the backup's data
//                     staged, swapped, started and proven ready (backups/restore.ts replaceData)
//   restored          the key that provision made revoked (the customer's own keys were never
//                     touched), the modules the backup had
//   settled           as it was: a stopped tenant stopped, a suspended one stopped and suspended
// Killed before 'restore:proven', the next command on the tenant (or recover run again) undoes it:
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
  durationMs?: number;
  reason?: string;
}

const reached = (step: string, than: string) => {
  const order = ['begun', 'detached', ...restoreSteps.slice(1).map((s) => `restore:${s}`), 'restored', 'settled'];
  return order.indexOf(step) >= order.indexOf(than);
};

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
    const found = await backups.latest(ctx, id, { ...scope, host: record.host, run });
    if (!found || !('id' in found)) {
      const passedOver = found?.skipped ?? [];
      return { id, outcome: 'failed', status: record.status, passedOver, considered: found?.considered ?? [], reason: passedOver.length === 0 ? 'no backup of it in the repository' : `no complete backup of it verifies (${passedOver.length} passed over: ${passedOver.map((p) => `${p.backup}: ${p.reason}`).join('; ')})` };
    }
    const backup = found;
    const chosen = { source: backup.origin, backupTime: backup.time, newerThanAdminSnapshotMs: backup.newerThanAdminSnapshotMs, passedOver: backup.skipped, considered: backup.considered };
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
      },
    });
    try {
      await ctx.pause('recover:begun');
      await journal.step(op, 'detached', {}, (client) => detach(db, client, id, run));
      await rm(tenantPaths(ctx.config.customersDir, id).dir, { recursive: true, force: true });
      await ctx.pause('recover:detached');
      const onTarget = contextOn(ctx, target);
      ctx.reporter.step(`provisioning ${id} on ${target.id} to restore ${backup.id} into (${backup.origin === 'repository' ? 'found in the repository, ' : ''}${describeAge(backup.newerThanAdminSnapshotMs)})`);
      const { provision } = await import('../tenants/provision.js');
      const provisioned = await provision(onTarget, { id, name: record.name, plan: record.plan, template: record.template, with: record.profiles });
      await journal.step(op, 'restore:provisioned', { targetKey: provisioned.initialApiKey?.id });
      await ctx.pause('restore:provisioned');
      await replaceData(onTarget, journal, op, id, { prefix: 'restore:' });
    } catch (error) {
      throw await undoAfterFailure(ctx, op, error);
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
  if (!reached(op.step, 'restored')) {
    await dropRestoreLeftovers(onTarget, op);
    await restoreModules(db, id, op.data.modules);
    await journal.step(op, 'restored', {}, async (client) => {
      if (op.data.targetKey) await revokeApiKeysById(db, client, id, [op.data.targetKey]);
    });
    await ctx.pause('recover:restored');
  }
  if (!reached(op.step, 'settled')) {
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

async function undoAfterFailure(ctx: Context, op: Operation<RecoverIntent>, error: unknown): Promise<TenantctlError> {
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
    await undoRecover(quiet, op, first.message);
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
  if (reached(op.step, 'detached')) {
    const target = await dockerHostNamed(ctx, db, op.host);
    if (!target) throw new TenantctlError('conflict', `the recover of ${id} worked on Docker host ${op.host}, which this environment cannot reach`);
    const record = await new TenantRegistry(db).require(id);
    // The host held nothing of the project when this recover began (checked before 'begun'): whatever is there now is its own.
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
  if (reached(op.step, 'restore:proven')) {
    const target = await dockerHostNamed(ctx, await ctx.adminDb(), op.host);
    if (!target) throw new TenantctlError('conflict', `an interrupted recover of ${op.tenant} needs Docker host ${op.host}, which this environment cannot reach`);
    await finishRecover(ctx, new OperationJournal(await ctx.adminDb()), op, target);
    return 'finished';
  }
  await undoRecover(ctx, op, `interrupted at step ${op.step}, before ${op.tenant} was proven ready; undone by a later command`);
  return 'undone';
}
