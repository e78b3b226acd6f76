import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Context } from '../context.js';
import type { AlertEvent } from './kinds.js';

// Raising an alert is a row per interested endpoint in admin_alert_deliveries, due now; the
// delivery loop (deliver.ts) sends it. Raised in the caller's transaction when it has one, so an
// event and its alert are recorded together or not at all.

/** The JSON body every endpoint gets for this event (the same bytes on every retry). */
export function alertPayload(event: AlertEvent, now: Date): Record<string, unknown> {
  return {
    id: randomUUID(),
    event: event.kind,
    at: (event.at ?? now).toISOString(),
    tenant: event.tenant ?? null,
    host: event.host ?? null,
    summary: event.summary,
    detail: event.detail ?? {},
  };
}

/** Queues the event for every endpoint whose filter takes it; the number of deliveries queued. */
export async function raiseAlertIn(client: pg.ClientBase, event: AlertEvent, now: Date): Promise<number> {
  const { rowCount } = await client.query(
    `INSERT INTO admin_alert_deliveries (endpoint_id, event, payload, next_attempt_at)
     SELECT id, $1, $2::jsonb, now() FROM admin_alert_endpoints WHERE cardinality(events) = 0 OR $1 = ANY (events)`,
    [event.kind, JSON.stringify(alertPayload(event, now))],
  );
  return rowCount ?? 0;
}

/**
 * For backups (failed, missed), certificates (expiring, renewal failed), disk over plan and the
 * like: queue an alert from anywhere that has the context. Returns how many endpoints will get it.
 */
export async function raiseAlert(ctx: Context, event: AlertEvent): Promise<number> {
  const db = await ctx.adminDb();
  const client = await db.connect();
  try {
    return await raiseAlertIn(client, event, new Date(ctx.clock.now()));
  } catch (error) {
    return db.unreachable(error);
  } finally {
    client.release();
  }
}

/**
 * One delivery of the event to one endpoint, whatever its filter (`alerts test`), queued already
 * claimed by `token` with a lease of `leaseMs`: a delivery loop running meanwhile does not send it
 * too. Its id.
 */
export async function queueClaimedIn(client: pg.ClientBase, endpointId: string, event: AlertEvent, now: Date, claim: { token: string; leaseMs: number }): Promise<string> {
  const { rows } = await client.query(
    `INSERT INTO admin_alert_deliveries (endpoint_id, event, payload, claim_token, next_attempt_at)
     VALUES ($1, $2, $3::jsonb, $4::uuid, now() + ($5::int * interval '1 millisecond')) RETURNING id::text`,
    [endpointId, event.kind, JSON.stringify(alertPayload(event, now)), claim.token, Math.round(claim.leaseMs)],
  );
  return rows[0].id as string;
}
