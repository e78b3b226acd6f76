import type { AgentContext } from './context.js';
import type { AgentLoop } from './loop.js';
import { raiseAlert } from '../alerts/raise.js';
import { raiseRepeating } from '../alerts/repeat.js';
import type { AlertEvent } from '../alerts/kinds.js';
import { tenantsOverQuota } from '../quota/disk-quota.js';
import { decideSuspensions } from '../suspension/policy.js';
import { markDeprovisionWarned } from '../suspension/warned.js';
import { messageOf } from '../common/errors.js';
import { recordedPolicyDays } from '../suspension/policy-setting.js';
import { ScheduleStore } from '../schedules/store.js';
import { missedAlert, missedBackups, missedScheduleKey, missedSchedules, type ScheduleFreshness } from '../schedules/alerts.js';
import { deprovisionByPolicy, forgetPolicyMark, pendingPolicyDeprovisions } from '../suspension/policy-deprovision.js';

// The policies the agent watches on its host, once an hour on the leader: a tenant's volumes over
// its plan's disk quota (plans.<plan>.diskQuota), an active tenant whose plan has a backup schedule
// and no succeeded backup within two of its intervals (backup.missed: the agent was down, the runs
// fail, or the tenant is always busy), a schedule of the host with no succeeded run within two of
// its intervals (admin.backup-missed, schedule.missed: src/schedules/alerts.ts), and the suspension policy (suspension.deprovisionAfterDays,
// off by default): a suspended tenant within a day of its time is warned of
// (suspension.deprovision-soon), and one that is due is deprovisioned with its data kept, through
// the deprovision verb, as the agent (suspension/policy-deprovision.ts; suspension.deprovisioned,
// or suspension.deprovision-failed with its cause). A policy run a killed agent left is finished
// first, on every pass, whether or not the policy is still on: it was begun, and it resumes.

const hourMs = 60 * 60 * 1000;
/**
 * The same finding is alerted again after a day if it still holds: decided per endpoint from the
 * deliveries on record (alerts/repeat.ts, migration 032), so a restarted agent or the host's other
 * agent does not repeat it sooner.
 */
export const policyRepeatAfterMs = 24 * hourMs;

/**
 * Looks every 5 s whether an hour has passed since its last pass (a boolean and a clock read): the
 * first pass comes within seconds of this agent leading (an hourly loop whose first tick found it a
 * follower would wait an hour).
 */
export function policyLoop(everyMs = hourMs): AgentLoop {
  let lastPass: number | undefined;
  // The term of leadership the last pass ran in: a new term (this agent leads again after another
  // led) passes at once, not an hour after its previous term's pass.
  let lastTerm: AbortSignal | undefined;
  // What this pass found and queued, for its one log line (`agent logs`: each pass says it ran).
  let found = 0;
  let queued = 0;
  const once = async (agent: AgentContext, key: string, event: AlertEvent) => {
    found += 1;
    queued += await raiseRepeating(agent.ctx, key, event, policyRepeatAfterMs);
  };
  return {
    name: 'policies',
    intervalMs: Math.min(everyMs, 5_000),
    async tick(agent) {
      if (!agent.isLeader()) return;
      const now = agent.ctx.clock.now();
      const term = agent.leadership.termSignal;
      if (lastPass !== undefined && now - lastPass < everyMs && term === lastTerm) return;
      lastPass = now;
      lastTerm = term;
      found = 0;
      queued = 0;
      try {
        await pass(agent);
      } finally {
        agent.log(`policies: pass ended: ${found} finding(s), ${queued} delivery(ies) queued (an endpoint that got a finding within ${policyRepeatAfterMs / hourMs} h is not sent it again)`);
      }
    },
  };

  async function pass(agent: AgentContext): Promise<void> {
    // First: a failing quota measurement (its helper container) must not keep a begun deprovision waiting an hour.
    await finishPolicyRuns(agent, once);
    // Then, before the quota's measurement (a helper container) can fail the pass: this host's
    // schedules with no success within two intervals (admin-backup, certificate renewal, retention:
    // src/schedules/alerts.ts); a failed run was alerted when it failed.
    // A section that fails (a missing grant: EXECUTE on admin_last_admin_backup()) is logged with
    // its cause and the pass goes on: the quota and backup checks below do not depend on it.
    let schedules: ScheduleFreshness[] = [];
    try {
      schedules = await new ScheduleStore(agent.db).freshness(agent.hostId);
      for (const missed of missedSchedules(schedules, agent.ctx.clock.now())) {
        agent.log(`policies: ${missed.schedule.kind} ${missed.schedule.target} has not succeeded for ${missed.staleSeconds} s (${missed.schedule.spec})`);
        await once(agent, missedScheduleKey(agent.hostId, missed.schedule), missedAlert(missed, agent.hostId));
      }
    } catch (error) {
      agent.log(`policies: missed schedules not checked: ${messageOf(error)}`);
      // The plans' backups below are still checked: their schedules without the admin backup's function.
      schedules = await new ScheduleStore(agent.db).freshness(agent.hostId, { adminBackups: false });
    }
    // The tenants' keys below name the tenant alone: a tenant is on one host at a time, and the same
    // finding of a tenant that moved is not news to an endpoint that got it within the day.
    const { over } = await tenantsOverQuota(agent.ctx);
    for (const t of over.filter((o) => o.host === agent.hostId)) {
      await once(agent, `disk:${t.id}`, {
        kind: 'disk.over-plan', tenant: t.id, host: t.host,
        summary: `${t.id}'s volumes hold ${t.usedBytes} bytes, over plan ${t.plan}'s quota of ${t.quotaBytes}`,
        detail: { plan: t.plan, usedBytes: t.usedBytes, quotaBytes: t.quotaBytes },
      });
    }
    // Each plan's backup schedule of this host (the rows `agent up` wrote): its tenants with no
    // succeeded backup within two intervals, counted from the schedule's creation at the earliest
    // (review M4: a schedule added today has missed nothing yet).
    for (const schedule of schedules.filter((x) => x.kind === 'backup')) {
      const plan = schedule.target;
      const { rows } = await agent.db.pool.query(
        `SELECT c.id, c.provisioned_at, max(b.finished_at) AS last
           FROM admin_customers c LEFT JOIN admin_backups b ON b.customer_id = c.id AND b.state = 'succeeded'
          WHERE c.host = $1 AND c.plan = $2 AND c.status = 'active' AND c.provisioned_at IS NOT NULL
          GROUP BY c.id, c.provisioned_at ORDER BY c.id`,
        [agent.hostId, plan],
      ).catch(agent.db.unreachable);
      const stale = missedBackups(schedule, rows.map((r) => ({
        id: r.id as string, provisionedAt: (r.provisioned_at as Date).toISOString(), lastSucceededAt: r.last ? (r.last as Date).toISOString() : null,
      })), agent.ctx.clock.now());
      if (stale.length > 0) agent.log(`policies: ${stale.length} tenant(s) of plan ${plan} without a succeeded backup within ${schedule.everySeconds * 2} s: ${stale.map((t) => t.id).join(', ')}`);
      for (const t of stale) {
        await once(agent, `backup-missed:${t.id}`, {
          kind: 'backup.missed', tenant: t.id, host: agent.hostId,
          summary: t.lastSucceededAt === null
            ? `${t.id} has no succeeded backup, and plan ${plan} backs up ${schedule.spec}`
            : `${t.id}'s last succeeded backup is from ${t.lastSucceededAt}, and plan ${plan} backs up ${schedule.spec}`,
          detail: { plan, schedule: schedule.spec, lastSucceededAt: t.lastSucceededAt, staleSeconds: t.staleSeconds },
        });
      }
    }
    // The policy as `agent up` recorded it for this host (the days the database's guard enforces,
    // migration 029), not this agent's own configuration: what it decides is what it may do.
    const days = await recordedPolicyDays(agent.db, agent.hostId);
    if (days !== agent.ctx.config.suspension.deprovisionAfterDays) {
      agent.log(`policies: the suspension policy recorded for ${agent.hostId} (${days ?? 'off'}) is not this agent's configuration (${agent.ctx.config.suspension.deprovisionAfterDays ?? 'off'}): the recorded one applies (agent up records it)`);
    }
    if (days === null) return;
    const { rows } = await agent.db.pool.query(
      "SELECT id, suspended_at, deprovision_warned_at FROM admin_customers WHERE status = 'suspended' AND host = $1 AND suspended_at IS NOT NULL",
      [agent.hostId],
    ).catch(agent.db.unreachable);
    const decision = decideSuspensions(rows.map((r) => ({
      id: r.id as string,
      suspendedAt: new Date(r.suspended_at as Date).toISOString(),
      warnedAt: r.deprovision_warned_at ? new Date(r.deprovision_warned_at as Date).toISOString() : null,
    })), { deprovisionAfterDays: days, now: agent.ctx.clock.now() });
    for (const v of decision.verdicts.filter((x) => x.dueWithinADay)) {
      await once(agent, `suspension:soon:${v.id}`, {
        kind: 'suspension.deprovision-soon', tenant: v.id, host: agent.hostId,
        summary: `${v.id} has been suspended ${v.daysSuspended} days; the policy (suspension.deprovisionAfterDays ${days}) deprovisions it, keeping its data, at ${v.deprovisionAt}`,
        detail: { daysSuspended: v.daysSuspended, deprovisionAt: v.deprovisionAt, keepData: true },
      });
      // The policy counts a day from the first warning raised: never due before one was sent.
      await markDeprovisionWarned(agent.ctx, v.id);
    }
    for (const v of decision.verdicts.filter((x) => x.due)) {
      if (agent.leadership.termSignal?.aborted || agent.ctx.signal.aborted) return;
      await deprovisionDue(agent, once, v.id, days, v.daysSuspended);
    }
  }
}

type AlertOnce = (agent: AgentContext, key: string, event: AlertEvent) => Promise<void>;

/** One due tenant deprovisioned by the policy; its outcome is an alert either way (a failure is retried next pass, its alert repeated only as the policy's other alerts are). */
async function deprovisionDue(agent: AgentContext, once: AlertOnce, id: string, days: number, daysSuspended: number | null): Promise<void> {
  const term = agent.leadership.termSignal;
  // A lost lead stops the verb as Ctrl-C would: it resumes from the registry on the next leader's pass.
  const signal = term ? AbortSignal.any([agent.ctx.signal, term]) : agent.ctx.signal;
  try {
    const done = await agent.leadership.during(() => deprovisionByPolicy({ ...agent.ctx, signal }, id, days));
    if (done.outcome === 'not-due') return;
    agent.log(`policies: ${id} deprovisioned by the suspension policy (${done.outcome}; data kept)`);
    await raiseAlert(agent.ctx, {
      kind: 'suspension.deprovisioned', tenant: id, host: agent.hostId,
      summary: `${id} was deprovisioned by the suspension policy (suspended${daysSuspended === null ? '' : ` ${daysSuspended} days`}; suspension.deprovisionAfterDays ${days}); its data is kept: tenantctl provision ${id} brings it back`,
      detail: { deprovisionAfterDays: days, daysSuspended, keepData: true, resumed: done.outcome === 'resumed' },
    });
  } catch (error) {
    agent.log(`policies: deprovisioning ${id} failed: ${messageOf(error)}`);
    await once(agent, `suspension:failed:${id}`, {
      kind: 'suspension.deprovision-failed', tenant: id, host: agent.hostId,
      summary: `the suspension policy could not deprovision ${id}: ${messageOf(error)} (tried again on the next pass)`,
      detail: { error: messageOf(error), deprovisionAfterDays: days },
    }).catch((raiseError: unknown) => agent.log(`policies: the alert for ${id} was not queued: ${messageOf(raiseError)}`));
  }
}

/** What a killed agent's policy run left: resumed through the same verb; finished runs' marks cleared. */
async function finishPolicyRuns(agent: AgentContext, once: AlertOnce): Promise<void> {
  const { resume, finished } = await pendingPolicyDeprovisions(agent.ctx, agent.hostId);
  for (const id of finished) await forgetPolicyMark(agent.ctx, id);
  // The days of a resumed run are not asked again: it was due when it began.
  for (const id of resume) await deprovisionDue(agent, once, id, agent.ctx.config.suspension.deprovisionAfterDays ?? 0, null);
}
