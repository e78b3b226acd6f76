import type { AgentContext } from './context.js';
import type { AgentLoop } from './loop.js';
import { raiseAlertIn } from '../alerts/raise.js';
import type { AlertEvent } from '../alerts/kinds.js';
import { recordEvent } from '../watch/store.js';

// WAL shipping that falls behind is an alert (pitr.lagging), and its end one too (pitr.caught-up):
// on the leader, every check, each active tenant of a plan with `pitr` on this host is judged from
// the shipping state the wal-shipping loop records (admin_wal_shipping, what `status` shows as the
// archive lag). Transitions are recorded as events (admin_tenant_events: the newest pitr.* event
// of a tenant is its recorded state), each with its alert in one transaction, compare-and-set under
// a transaction lock of the tenant: a restarted agent, or the host's other agent, raises a
// transition once and never forgets one it did not raise.

/** A tenant's shipping state, as recorded after each shipment (src/pitr/ship.ts's ArchiveLag). */
export interface ShippingRecord {
  tenant: string;
  /** Age of the newest shipped segment, from when PostgreSQL archived it; null: nothing shipped yet. */
  lagSeconds: number | null;
  /** Archived segments still in the volume after the last shipment. */
  waiting: number;
  lastError: string | null;
  /** How long shipping has failed, from its first failure since a success (migration 033); null: it does not fail. */
  failingSeconds: number | null;
  /** When the last shipment (or its failure) was recorded. */
  checkedAt: string;
}

export interface LagJudgement {
  behind: boolean;
  /** Why it is behind (for people); undefined when it is not. */
  reason?: string;
}

/**
 * Whether a tenant's WAL shipping is behind by more than `boundSeconds`, from its record alone:
 * - no shipment recorded for longer than the bound (the shipping loop does not reach it);
 * - shipping has failed for longer than the bound (since its first failure after a success: an idle
 *   tenant's newest segment is hours old whatever happens, so its age says nothing of the failure);
 * - segments wait in the volume and the newest shipped one is older than the bound.
 * An idle database archives nothing for hours: an old newest segment with nothing waiting and no
 * error is caught up (everything archived is in the repository).
 */
export function judgeLag(record: ShippingRecord, now: number, boundSeconds: number): LagJudgement {
  const unchecked = Math.floor((now - Date.parse(record.checkedAt)) / 1000);
  if (unchecked > boundSeconds) return { behind: true, reason: `no shipment recorded for ${unchecked} s` };
  const newest = record.lagSeconds === null ? 'nothing shipped yet' : `the newest shipped segment was archived ${record.lagSeconds} s ago`;
  if (record.lastError !== null && record.failingSeconds !== null && record.failingSeconds > boundSeconds) {
    return { behind: true, reason: `shipping has failed for ${record.failingSeconds} s (${record.lastError}); ${newest}` };
  }
  if (record.waiting > 0 && record.lagSeconds !== null && record.lagSeconds > boundSeconds) return { behind: true, reason: `${record.waiting} archived segment(s) wait in the volume; ${newest}` };
  return { behind: false };
}

export type LagState = 'lagging' | 'caught-up';

/**
 * The transition to record, if any. A tenant never recorded lagging that is not behind raises
 * nothing; behind is lagging. A segment archived during a shipment waits for the next one, so
 * `behind` must hold on two consecutive records (`behindBefore`: the previous record judged behind
 * too, a different shipment) before it is lagging; catching up is recorded at once.
 */
export function lagTransition(recorded: LagState | null, behind: boolean, behindBefore: boolean): LagState | undefined {
  if (behind && behindBefore && recorded !== 'lagging') return 'lagging';
  if (!behind && recorded === 'lagging') return 'caught-up';
  return undefined;
}

/** The first record of a tenant this agent judged behind, and when it did. */
export interface FirstBehind {
  checkedAt: string;
  seenAt: number;
}

/**
 * Whether a tenant judged behind now was behind on an earlier check too (lagTransition's
 * `behindBefore`): a later shipment is still behind, or no shipment was recorded since for more than
 * two shipping intervals (the shipping loop had its chances and did not reach it).
 */
export function behindBefore(first: FirstBehind | undefined, record: ShippingRecord, now: number, shipIntervalMs: number): boolean {
  if (first === undefined) return false;
  return first.checkedAt !== record.checkedAt || now - first.seenAt > 2 * shipIntervalMs;
}

/** The alert of a transition. */
export function lagAlert(host: string, tenant: string, to: LagState, judgement: LagJudgement, record: ShippingRecord, boundSeconds: number): AlertEvent {
  const detail = { boundSeconds, lagSeconds: record.lagSeconds, waiting: record.waiting, lastError: record.lastError, failingSeconds: record.failingSeconds, checkedAt: record.checkedAt };
  return to === 'lagging'
    ? { kind: 'pitr.lagging', tenant, host, summary: `${tenant}'s WAL shipping is behind by more than ${boundSeconds} s: ${judgement.reason}`, detail: { ...detail, reason: judgement.reason } }
    : { kind: 'pitr.caught-up', tenant, host, summary: `${tenant}'s WAL shipping has caught up (within ${boundSeconds} s)`, detail: { ...detail, reason: `caught up: shipping within ${boundSeconds} s again` } };
}

/** The tenants' lock space for these transitions (a transaction lock, apart from the tenant lock). */
const lagLockSpace = 33;

export function pitrLagLoop(boundSeconds: number, intervalMs: number, shipIntervalMs: number): AgentLoop {
  // Per tenant, the first record this agent judged behind (behindBefore). Memory only: a restarted
  // agent confirms it again, which delays a first pitr.lagging by a check, never repeats one.
  const firstBehind = new Map<string, FirstBehind>();
  return {
    name: 'pitr-lag',
    intervalMs,
    async tick(agent) {
      if (!agent.isLeader() || !agent.leadership.termSignal) return;
      const plans = Object.entries(agent.ctx.config.plans).filter(([, p]) => p.pitr).map(([name]) => name);
      if (plans.length === 0) { firstBehind.clear(); return; }
      const { rows } = await agent.db.pool.query(
        `SELECT c.id, w.newest_archived_at, w.waiting, w.last_error, w.failing_since, w.checked_at, now() AS now,
                (SELECT e.kind FROM admin_tenant_events e WHERE e.customer_id = c.id AND e.kind IN ('pitr.lagging', 'pitr.caught-up') ORDER BY e.created_at DESC, e.id DESC LIMIT 1) AS recorded
           FROM admin_customers c JOIN admin_wal_shipping w ON w.customer_id = c.id
          WHERE c.host = $1 AND c.status = 'active' AND c.plan = ANY($2::text[]) ORDER BY c.id`,
        [agent.hostId, plans],
      ).catch(agent.db.unreachable);
      // A tenant no longer judged here (suspended, deprovisioned, moved, its plan without pitr) is
      // forgotten: its memory would otherwise confirm a lag at once when it is judged again. Its
      // recorded state stays: judged again, a lagging one that is fine then is pitr.caught-up.
      const judged = new Set(rows.map((r) => r.id as string));
      for (const tenant of [...firstBehind.keys()]) if (!judged.has(tenant)) firstBehind.delete(tenant);
      for (const r of rows) {
        const now = (r.now as Date).getTime();
        const record: ShippingRecord = {
          tenant: r.id,
          lagSeconds: r.newest_archived_at ? Math.max(0, Math.round((now - (r.newest_archived_at as Date).getTime()) / 1000)) : null,
          waiting: Number(r.waiting),
          lastError: r.last_error ?? null,
          failingSeconds: r.last_error && r.failing_since ? Math.max(0, Math.round((now - (r.failing_since as Date).getTime()) / 1000)) : null,
          checkedAt: (r.checked_at as Date).toISOString(),
        };
        const judgement = judgeLag(record, now, boundSeconds);
        const confirmed = judgement.behind && behindBefore(firstBehind.get(record.tenant), record, now, shipIntervalMs);
        if (!judgement.behind) firstBehind.delete(record.tenant);
        else if (!firstBehind.has(record.tenant)) firstBehind.set(record.tenant, { checkedAt: record.checkedAt, seenAt: now });
        const recorded: LagState | null = r.recorded === 'pitr.lagging' ? 'lagging' : r.recorded === 'pitr.caught-up' ? 'caught-up' : null;
        const to = lagTransition(recorded, judgement.behind, confirmed);
        if (!to) continue;
        const raised = await agent.db.withTransaction(async (client) => {
          await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [lagLockSpace, record.tenant]);
          // Compare-and-set: another agent may have recorded it since this one read.
          const { rows: last } = await client.query(
            "SELECT kind FROM admin_tenant_events WHERE customer_id = $1 AND kind IN ('pitr.lagging', 'pitr.caught-up') ORDER BY created_at DESC, id DESC LIMIT 1",
            [record.tenant],
          );
          if ((last[0]?.kind ?? null) !== (r.recorded ?? null)) return false;
          const alert = lagAlert(agent.hostId, record.tenant, to, judgement, record, boundSeconds);
          await recordEvent(client, { tenant: record.tenant, host: agent.hostId, kind: alert.kind, from: recorded, to, detail: alert.detail });
          await raiseAlertIn(client, alert, new Date(agent.ctx.clock.now()));
          return true;
        });
        if (raised) agent.log(`pitr-lag: ${record.tenant} ${to}${judgement.reason ? `: ${judgement.reason}` : ''}`);
      }
    },
  };
}
