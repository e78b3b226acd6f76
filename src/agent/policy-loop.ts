import type { AgentContext } from './context.js';
import type { AgentLoop } from './loop.js';
import { raiseAlert } from '../alerts/raise.js';
import type { AlertEvent } from '../alerts/kinds.js';
import { tenantsOverQuota } from '../quota/disk-quota.js';
import { decideSuspensions } from '../suspension/policy.js';
import { markDeprovisionWarned } from '../suspension/warned.js';
import { intervalSeconds } from '../common/interval.js';

// The policies the agent watches on its host, once an hour on the leader: a tenant's volumes over
// its plan's disk quota (plans.<plan>.diskQuota), an active tenant whose plan has a backup schedule
// and no succeeded backup within two of its intervals (backup.missed: the agent was down, the runs
// fail, or the tenant is always busy), and suspended tenants whose deprovisioning the policy
// (suspension.deprovisionAfterDays) has set within a day, or that are due. Each is an alert;
// the agent acts on neither: its role may not remove tenants (017), so a due tenant is an
// operator's `tenantctl deprovision <id> --keep-data` (README, "Suspension").

const hourMs = 60 * 60 * 1000;
/** The same finding is alerted again after a day if it still holds (a restarted agent may repeat one sooner). */
const repeatAfterMs = 24 * hourMs;

/**
 * Looks every 5 s whether an hour has passed since its last pass (a boolean and a clock read): the
 * first pass comes within seconds of this agent leading (an hourly loop whose first tick found it a
 * follower would wait an hour).
 */
export function policyLoop(everyMs = hourMs): AgentLoop {
  const lastAlerted = new Map<string, number>();
  let lastPass: number | undefined;
  const once = async (agent: AgentContext, key: string, event: AlertEvent) => {
    const now = agent.ctx.clock.now();
    const last = lastAlerted.get(key);
    if (last !== undefined && now - last < repeatAfterMs) return;
    await raiseAlert(agent.ctx, event);
    lastAlerted.set(key, now);
  };
  return {
    name: 'policies',
    intervalMs: Math.min(everyMs, 5_000),
    async tick(agent) {
      if (!agent.isLeader()) return;
      const now = agent.ctx.clock.now();
      if (lastPass !== undefined && now - lastPass < everyMs) return;
      lastPass = now;
      const { over } = await tenantsOverQuota(agent.ctx);
      for (const t of over.filter((o) => o.host === agent.hostId)) {
        await once(agent, `disk:${t.id}`, {
          kind: 'disk.over-plan', tenant: t.id, host: t.host,
          summary: `${t.id}'s volumes hold ${t.usedBytes} bytes, over plan ${t.plan}'s quota of ${t.quotaBytes}`,
          detail: { plan: t.plan, usedBytes: t.usedBytes, quotaBytes: t.quotaBytes },
        });
      }
      for (const [plan, settings] of Object.entries(agent.ctx.config.plans)) {
        const every = intervalSeconds(settings.backupSchedule, `plans.${plan}.backupSchedule`);
        if (every === undefined) continue;
        const { rows: stale } = await agent.db.pool.query(
          `SELECT c.id, extract(epoch FROM max(b.finished_at))::float8 AS last
             FROM admin_customers c LEFT JOIN admin_backups b ON b.customer_id = c.id AND b.state = 'succeeded'
            WHERE c.host = $1 AND c.plan = $2 AND c.status = 'active' AND c.provisioned_at < now() - make_interval(secs => $3)
            GROUP BY c.id HAVING coalesce(max(b.finished_at), '-infinity') < now() - make_interval(secs => $3)`,
          [agent.hostId, plan, every * 2],
        ).catch(agent.db.unreachable);
        if (stale.length > 0) agent.log(`policies: ${stale.length} tenant(s) of plan ${plan} without a succeeded backup within ${every * 2} s: ${stale.map((t) => t.id).join(', ')}`);
        for (const t of stale) {
          await once(agent, `backup-missed:${t.id}`, {
            kind: 'backup.missed', tenant: t.id, host: agent.hostId,
            summary: t.last === null
              ? `${t.id} has no succeeded backup, and plan ${plan} backs up ${settings.backupSchedule}`
              : `${t.id}'s last succeeded backup is from ${new Date(Number(t.last) * 1000).toISOString()}, and plan ${plan} backs up ${settings.backupSchedule}`,
            detail: { plan, schedule: settings.backupSchedule, lastSucceededAt: t.last === null ? null : new Date(Number(t.last) * 1000).toISOString() },
          });
        }
      }
      const days = agent.ctx.config.suspension.deprovisionAfterDays;
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
      for (const v of decision.verdicts.filter((x) => x.due || x.dueWithinADay)) {
        await once(agent, `suspension:${v.due ? 'due' : 'soon'}:${v.id}`, {
          kind: v.due ? 'suspension.deprovision-due' : 'suspension.deprovision-soon', tenant: v.id, host: agent.hostId,
          summary: v.due
            ? `${v.id} has been suspended ${v.daysSuspended} days; the policy (suspension.deprovisionAfterDays ${days}) has it deprovisioned: tenantctl deprovision ${v.id} --keep-data`
            : `${v.id} has been suspended ${v.daysSuspended} days; the policy deprovisions it at ${v.deprovisionAt}`,
          detail: { daysSuspended: v.daysSuspended, deprovisionAt: v.deprovisionAt },
        });
        // The policy counts a day from the first warning raised: never due before one was sent.
        if (!v.due) await markDeprovisionWarned(agent.ctx, v.id);
      }
    },
  };
}
