import type { Context } from '../context.js';
import type { AlertEvent } from './kinds.js';
import { alertPayload } from './raise.js';

// A finding that holds for a long time (a backup missed, a disk over its plan) is raised again after
// an interval while it holds, never on every pass. Whether it is due for an endpoint is read from
// what was sent (admin_alert_deliveries, its repeat_key: migration 032), not from the memory of the
// agent that raised it: a restarted agent, or the host's other agent taking the lead, neither sends
// it again too soon nor forgets it. An endpoint added since the last one gets it on the next pass.

/** The repeat keys' lock space (a transaction lock): two leaders raising one key at once raise it once. */
const repeatLockSpace = 32;

export interface EndpointFilter {
  id: string;
  /** The kinds it takes; empty: all. */
  events: readonly string[];
}

/**
 * The endpoints `kind` is due for: those whose filter takes it and that got no delivery of the key
 * within `repeatAfterMs` before `now` (`lastSent`: each endpoint's newest delivery of the key, pending
 * delivered, or failed within the last day: see raiseRepeating).
 */
export function endpointsDue(endpoints: readonly EndpointFilter[], kind: string, lastSent: ReadonlyMap<string, number>, now: number, repeatAfterMs: number): string[] {
  return endpoints
    .filter((e) => e.events.length === 0 || e.events.includes(kind))
    .filter((e) => {
      const last = lastSent.get(e.id);
      return last === undefined || now - last >= repeatAfterMs;
    })
    .map((e) => e.id);
}

/**
 * Raises `event` under `key` to each endpoint it is due for (endpointsDue, against the database's
 * clock: agents' clocks may differ); how many deliveries were queued (0: every endpoint had it
 * within the interval, or none takes it). A row dated after the database's now() is no delivery
 * (the agent cannot write created_at since 032; an older or hand-made row could be dated so). A
 * delivery that failed for good counts as sent for a day (an endpoint that refuses is not sent a new
 * copy every pass; once a day it is tried again).
 */
export async function raiseRepeating(ctx: Context, key: string, event: AlertEvent, repeatAfterMs: number): Promise<number> {
  const db = await ctx.adminDb();
  return db.withTransaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [repeatLockSpace, key]);
    const { rows: [{ now }] } = await client.query('SELECT now() AS now');
    const { rows: endpoints } = await client.query('SELECT id, events FROM admin_alert_endpoints');
    const { rows: sent } = await client.query(
      `SELECT endpoint_id, max(created_at) AS last FROM admin_alert_deliveries
        WHERE repeat_key = $1 AND created_at <= now() AND (state <> 'failed' OR created_at > now() - interval '1 day')
        GROUP BY endpoint_id`,
      [key],
    );
    const due = endpointsDue(
      endpoints.map((e) => ({ id: e.id as string, events: e.events as string[] })),
      event.kind,
      new Map(sent.map((s) => [s.endpoint_id as string, (s.last as Date).getTime()])),
      (now as Date).getTime(),
      repeatAfterMs,
    );
    if (due.length === 0) return 0;
    const { rowCount } = await client.query(
      `INSERT INTO admin_alert_deliveries (endpoint_id, event, payload, next_attempt_at, repeat_key)
       SELECT id, $2, $3::jsonb, now(), $4 FROM unnest($1::text[]) AS id`,
      [due, event.kind, JSON.stringify(alertPayload(event, new Date(ctx.clock.now()))), key],
    );
    return rowCount ?? 0;
  });
}
