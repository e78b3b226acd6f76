import { messageOf } from '../common/errors.js';
import { inOwnLockScope } from '../common/lock-scope.js';
import { holdTenant } from '../tenants/hold.js';
import { runJob } from '../schedules/jobs.js';
import { ScheduleStore } from '../schedules/store.js';
import type { AgentContext } from './context.js';
import type { AgentLoop } from './loop.js';
import { raiseAlert } from '../alerts/raise.js';
import { alertsFailedRun, failedRunAlert } from '../schedules/alerts.js';
import type { LeaderSession, Schedule } from '../schedules/store.js';
import type { JobOutcome } from '../schedules/jobs.js';

// The schedules loop: on the host's leader only, claims due schedules one at a time and runs each
// to its end (src/schedules/jobs.ts), recording the outcome and the next due time; a failed run of
// any kind raises its alert.

export function schedulerLoop(pollMs: number): AgentLoop {
  return {
    name: 'schedules',
    intervalMs: pollMs,
    async tick(agent, signal) {
      const leader = agent.leadership.session;
      const term = agent.leadership.termSignal;
      if (!agent.isLeader() || !leader || !term) return;
      // The job runs with the agent's signal and the leadership term's: a lost lead aborts it.
      const both = AbortSignal.any([signal, term]);
      const jobCtx = { ...agent.ctx, signal: both };
      await agent.leadership.during(async () => {
        // Ticks never overlap, so no run of this agent is in flight here: a claimed run of this host
        // is one a killed agent left (its leader session is gone), or one this agent could not record
        // the end of (the admin database failed at that moment). Settled before anything is claimed.
        await settleInterruptedRuns(agent, leader);
        const store = new ScheduleStore(agent.db);
        while (!both.aborted) {
          const claimed = await store.claimDue(agent.hostId, agent.ctx.actor, leader);
          if (!claimed) return;
          const { schedule, run } = claimed;
          agent.log(`run ${run.id}: ${schedule.kind} ${schedule.target} (${schedule.spec}) started`);
          let ended: JobOutcome;
          try {
            // Each job in its own lock scope (lock-scope.ts): a tenant lock this job lost, or one it
            // still held when it ended, concerns no other job of the tick, and a lock another job of
            // the agent holds (the watch's restart, a request) is refused to it as another process's.
            ended = await inOwnLockScope(() => runJob(jobCtx, store, schedule, run));
          } catch (error) {
            ended = { outcome: 'failed', summary: `${schedule.kind} failed`, error: messageOf(error), interrupted: both.aborted };
          }
          const recorded = await store.finish(schedule, run.id, ended.outcome, ended.summary, ended.error, leader, { soon: ended.interrupted === true });
          agent.log(`run ${run.id}: ${schedule.kind} ${schedule.target} ${ended.outcome}: ${ended.summary}${ended.error ? ` (${ended.error})` : ''}${recorded === 'not ours' ? ' (not recorded: the run was settled by another leader)' : ''}`);
          if (alertsFailedRun(ended, recorded, signal.aborted)) await alertFailedRun(agent, schedule, run.id, ended.summary, ended.error);
        }
      });
    },
  };
}

/**
 * What the leader does before it claims anything: runs an agent claimed and never finished (it was killed,
 * or its host went down) are settled. Each tenant whose scheduled backup the run left in the
 * operation journal is settled under its lock (the backup kept if it was recorded as succeeded,
 * else recorded as failed), and the run is recorded as failed; its next run is due at once (the
 * tenants it did not reach are backed up soon). Only runs whose claiming session is gone (or is this
 * leader's own, with nothing in flight) are settled: a live agent's run never is. Nothing is run again here: a job is never made twice.
 */
export async function settleInterruptedRuns(agent: AgentContext, leader: LeaderSession): Promise<void> {
  const store = new ScheduleStore(agent.db);
  for (const { schedule, run } of await store.interrupted(agent.hostId, leader)) {
    const settled: string[] = [];
    const { rows } = await agent.db.pool.query(
      "SELECT customer_id FROM admin_operations WHERE state = 'running' AND verb = 'scheduled-backup' AND (data->>'run')::bigint = $1",
      [run.id],
    ).catch(agent.db.unreachable);
    for (const { customer_id: tenant } of rows) {
      try {
        // holdTenant settles the tenant's pending operation (resumeScheduledBackup) before anything
        // else; each tenant's settlement in its own lock scope, as each job is.
        await inOwnLockScope(async () => {
          const release = await holdTenant(agent.ctx, tenant);
          await release();
        });
        const { rows: ops } = await agent.db.pool.query(
          "SELECT state FROM admin_operations WHERE customer_id = $1 AND verb = 'scheduled-backup' AND (data->>'run')::bigint = $2 ORDER BY id DESC LIMIT 1",
          [tenant, run.id],
        ).catch(agent.db.unreachable);
        settled.push(`${tenant}'s backup ${ops[0]?.state === 'completed' ? 'was recorded before it stopped (kept)' : 'is recorded as failed'}`);
      } catch (error) {
        settled.push(`${tenant}: not settled (${messageOf(error)}); the next command on it settles it`);
      }
    }
    const why = `interrupted: the agent running it stopped (run ${run.id}, started ${run.startedAt} by ${run.actor})${settled.length ? `; ${settled.join('; ')}` : ''}`;
    // Due again at once: the tenants the run did not reach are backed up on the next claim.
    await store.finish(schedule, run.id, 'failed', `${schedule.kind} interrupted`, why, leader, { soon: true, settling: true });
    agent.log(`run ${run.id}: ${schedule.kind} ${schedule.target} was ${why}`);
    await alertFailedRun(agent, schedule, run.id, `${schedule.kind} interrupted`, why);
  }
}

/**
 * A scheduled run of any kind that failed (or was interrupted) is an alert, never silent
 * (src/schedules/alerts.ts: backup.failed, admin.backup-failed, certificate.renewal-failed,
 * schedule.failed). Raising it may fail too (the admin database): logged, and the run's row keeps
 * the failure for `schedules list`.
 */
async function alertFailedRun(agent: AgentContext, schedule: Schedule, runId: string | number, summary: string, error: string | null | undefined): Promise<void> {
  const event = failedRunAlert(schedule, agent.hostId, runId, summary, error);
  await raiseAlert(agent.ctx, event)
    .catch((raiseError: unknown) => agent.log(`run ${runId}: the ${event.kind} alert was not queued: ${messageOf(raiseError)}`));
}
