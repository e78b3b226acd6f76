import type { Context } from '../context.js';
import type { AgentLoop } from './loop.js';
import { leadershipLoop, type Leadership } from './leader.js';
import { schedulerLoop } from './scheduler.js';
import { watchLoopFor } from '../watch/loop.js';
import { alertDeliveryLoopFor, type Loop as ContextLoop } from '../alerts/loop.js';
import { retentionLoop } from '../watch/retention.js';
import { policyLoop } from './policy-loop.js';
import { heartbeatLoop } from './heartbeat.js';
import { walShippingLoopFor } from '../pitr/ship-loop.js';
import { requestsLoop, type RequestQueue } from './requests.js';
import { pitrLagLoop } from './pitr-lag.js';

/**
 * Only the host's leader probes, restarts and sends: two agents on one host would otherwise record
 * each transition twice and deliver each alert twice. A follower's tick does nothing.
 */
function leaderOnly(loop: ContextLoop): AgentLoop {
  return {
    name: loop.name,
    intervalMs: loop.intervalMs,
    async tick(agent, signal) {
      const term = agent.leadership.termSignal;
      if (!agent.isLeader() || !term) return;
      // The term's signal too: a lead lost mid-tick stops its probes, restarts and sends.
      const both = AbortSignal.any([signal, term]);
      await agent.leadership.during(() => loop.tick({ ...agent.ctx, signal: both }, both));
    },
  };
}

/**
 * Every loop the agent runs, in one place: leadership, heartbeats (heartbeat.ts), the schedules (backups, retention, doctor),
 * the watch (src/watch: probes, transitions, auto-restart), alert deliveries (src/alerts) and the
 * policies (disk quota, suspension deprovisioning: policy-loop.ts), WAL shipping (src/pitr) and its lag (pitr-lag.ts), and
 * on-demand requests (requests.ts: no kind is served yet; the gateway's wake comes first).
 * Metrics are not a loop: a scrape of /metrics collects them (routes.ts).
 */
export function agentLoops(ctx: Context, leadership: Leadership, self: { instance: string; startedAt: string }, requests: RequestQueue): AgentLoop[] {
  return [
    leadershipLoop(leadership),
    // Every agent, leader or not: its host's heartbeat, and other hosts whose agents went silent.
    heartbeatLoop(self.instance, self.startedAt, Math.round(ctx.config.agent.heartbeatSeconds * 1000)),
    schedulerLoop(Math.round(ctx.config.agent.pollSeconds * 1000)),
    leaderOnly(watchLoopFor(ctx)),
    leaderOnly(alertDeliveryLoopFor(ctx)),
    // Events and finished deliveries past watch.retentionDays (not the schedules' backup retention).
    leaderOnly({ ...retentionLoop, name: 'event-retention' }),
    policyLoop(),
    // Point-in-time recovery: archived WAL into the repository (plans with pitr on); the leader only.
    leaderOnly(walShippingLoopFor(ctx)),
    // Shipping behind by more than agent.walLagAlertSeconds: pitr.lagging, then pitr.caught-up (the leader only).
    pitrLagLoop(ctx.config.agent.walLagAlertSeconds, Math.round(ctx.config.pitr.shipIntervalSeconds * 1000), Math.round(ctx.config.pitr.shipIntervalSeconds * 1000)),
    // On-demand jobs (requests.ts): run when a request comes, on the leader, not on a period.
    requestsLoop(requests),
  ];
}
