import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { holdTenant } from '../tenants/hold.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { backupTenant, type BackupResult } from '../backups/backup.js';
import { BackupStore } from '../backups/store.js';
import { settleLeftBackup } from '../backups/settle-left.js';
import { TenantctlError } from '../common/errors.js';
import type { AdminDb } from '../admin-db/database.js';
import { ignoreFailure } from '../common/ignore-failure.js';

/**
 * Whether the session that claimed schedule run `runId` (its agent's leader lock) is gone. A session
 * whose start this role may not see counts as alive: unknown is never taken for gone.
 */
async function claimingSessionGone(db: AdminDb, runId: number): Promise<boolean> {
  const { rows } = await db.pool.query(
    `SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.leader_pid AND (a.backend_start IS NULL OR a.backend_start::text = r.leader_started)) AS gone
       FROM admin_schedule_runs r WHERE r.id = $1`,
    [runId],
  ).catch(db.unreachable);
  // No run row (its schedule was removed): nothing alive can be making it.
  return rows[0] ? rows[0].gone === true : true;
}

// A backup the agent makes for a schedule is journaled (verb 'scheduled-backup'): the intent (which
// schedule run) is recorded under the tenant's lock before the backup's first effect, so an agent
// killed during it (kill -9, a host reboot) leaves a running operation that the next holder of the
// tenant's lock settles (tenants/hold.ts -> cli/settle-table.ts -> resumeScheduledBackup): the
// backup is kept if it was recorded as succeeded, else recorded as failed with its .partial folder
// removed. It is never made a second time by the settlement: the schedule's next run makes the next
// one (src/agent/scheduler.ts marks the interrupted run failed).

export interface ScheduledBackupIntent {
  schedule: number;
  run: number;
  /** The backup made, once it is recorded as succeeded. */
  backup?: string;
}

/** backupTenant (the `backup` verb itself, nothing re-implemented) inside a journaled operation. */
export async function scheduledBackup(ctx: Context, tenant: string, intent: { schedule: number; run: number }): Promise<BackupResult> {
  const journal = new OperationJournal(await ctx.adminDb());
  // Settles what a killed run left for the tenant, then holds the lock for the whole backup (the
  // backup's own holdTenant nests in it).
  const release = await holdTenant(ctx, tenant);
  try {
    const op = await journal.begin<ScheduledBackupIntent>({ tenant, verb: 'scheduled-backup', host: ctx.dockerHost.id, data: intent });
    try {
      await ctx.pause('scheduled-backup:begun');
      const made = await backupTenant(ctx, tenant);
      await journal.step(op, 'backed-up', { backup: made.id });
      await journal.finish(op, 'completed');
      return made;
    } catch (error) {
      // backupTenant has recorded its own failure (row failed, .partial gone); the operation ends with it.
      await journal.finish(op, 'undone', messageOf(error)).catch(ignoreFailure('the backup\'s own failure is what is thrown; an entry left open is settled by the next command'));
      throw error;
    }
  } finally {
    await release();
  }
}

/**
 * Settles a scheduled backup a killed agent left (the caller holds the tenant's lock): a backup of
 * the run recorded as succeeded stands ('finished'); one still recorded as running is recorded as
 * failed and its .partial folder removed ('undone'). Nothing is backed up here.
 */
export async function resumeScheduledBackup(ctx: Context, op: Operation<ScheduledBackupIntent>): Promise<'finished' | 'undone'> {
  const db = await ctx.adminDb();
  const journal = new OperationJournal(db);
  const store = new BackupStore(db);
  const since = Date.parse(op.startedAt);
  const ofRun = (await store.list({ tenant: op.tenant })).filter((b) => Date.parse(b.startedAt) >= since);
  const running = ofRun.filter((b) => b.state === 'running');
  // Only a stale row is settled: no heartbeat for staleAfterMs, or the session of the agent that
  // claimed the run is gone. A live agent's backup (its session still there) is left alone: the
  // operation stays pending and its own agent ends it.
  if (running.some((b) => !b.stale) && !(await claimingSessionGone(db, op.data.run))) {
    throw new TenantctlError('conflict', `${op.tenant}'s scheduled backup (run ${op.data.run}) is still being made by a live agent; not settled`);
  }
  let recovered: string | undefined;
  for (const left of running) {
    // Killed between rename(partial -> final) and its row's succeed: kept if its manifest verifies.
    const settled = await settleLeftBackup(ctx.config.backupsDir, store, left, 'its scheduled run was interrupted (the agent stopped); settled from the operation journal');
    if (settled === 'succeeded') recovered = left.id;
  }
  if (recovered) {
    await journal.finish(op, 'completed', `backup ${recovered} was complete on disk when the agent stopped; recorded as succeeded`);
    return 'finished';
  }
  const made = ofRun.find((b) => b.state === 'succeeded');
  if (made) {
    await journal.finish(op, 'completed', `backup ${made.id} had been recorded before the agent stopped`);
    return 'finished';
  }
  await journal.finish(op, 'undone', 'the agent stopped during the backup; it is recorded as failed');
  return 'undone';
}
