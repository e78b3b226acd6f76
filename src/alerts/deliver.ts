import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';
import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { openSecretBox, type SecretBox } from '../secrets/master-key.js';
import { openEndpointSecret } from './endpoints.js';
import { signPayload, signatureHeader, timestampHeader } from './sign.js';

// Sending deliveries: due rows are claimed (a short lease, so a second agent does not send the
// same row at the same time), POSTed with their signature, and updated with the outcome: delivered,
// or the error kept and the next attempt set by exponential backoff, or failed after maxAttempts.

/**
 * How long a claimed delivery is not claimed again: the request's own bound plus a margin. A
 * watch killed after claiming leaves its rows leased; they are due again when the lease ends, so a
 * delivery is late by at most this, never lost (at least once: a receiver dedupes by payload id).
 */
const leaseMarginMs = 5_000;
/** Deliveries sent per pass; the rest wait for the next pass (the oldest first). */
const batchSize = 50;
/** Requests in flight at once: a slow receiver must not hold the others up too much. */
const concurrency = 4;

export interface DeliverySettings {
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
  backoffMaxMs: number;
}

export function deliverySettings(ctx: Context): DeliverySettings {
  const a = ctx.config.alerts;
  return { timeoutMs: a.timeoutSeconds * 1000, maxAttempts: a.maxAttempts, backoffMs: a.backoffSeconds * 1000, backoffMaxMs: a.backoffMaxSeconds * 1000 };
}

/** After the n-th failed attempt (1-based): base, doubled each time, capped. */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

export interface SendOutcome {
  ok: boolean;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** One signed POST. Redirects are not followed (a 3xx is a failure): the URL on record is where alerts go. */
export async function sendSigned(input: { url: string; secret: string; body: string; event: string; deliveryId: string; timeoutMs: number; signal: AbortSignal; now: () => number }): Promise<SendOutcome> {
  const started = input.now();
  const timestamp = Math.floor(started / 1000);
  try {
    const response = await fetch(input.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.any([input.signal, AbortSignal.timeout(input.timeoutMs)]),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'tenantctl-alerts',
        [timestampHeader]: String(timestamp),
        [signatureHeader]: signPayload(input.secret, timestamp, input.body),
        'x-tenantctl-event': input.event,
        'x-tenantctl-delivery': input.deliveryId,
      },
      body: input.body,
    });
    // The body is not needed; reading it frees the connection.
    await response.arrayBuffer().catch(() => undefined);
    const ok = response.status >= 200 && response.status < 300;
    return { ok, status: response.status, error: ok ? null : `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, durationMs: input.now() - started };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const why = (error as Error).name === 'TimeoutError' ? `no answer within ${Math.round(input.timeoutMs / 1000)} s` : `${messageOf(error)}${cause ? `: ${messageOf(cause)}` : ''}`;
    return { ok: false, status: null, error: why.slice(0, 500), durationMs: input.now() - started };
  }
}

interface Claimed {
  id: string;
  endpointId: string;
  url: string;
  sealedSecret: string;
  event: string;
  body: string;
  attempts: number;
}

export interface DeliveryResult {
  delivery: string;
  endpoint: string;
  event: string;
  state: 'delivered' | 'pending' | 'failed';
  attempts: number;
  status: number | null;
  error: string | null;
}

/**
 * One pass: claims what is due (or exactly `ids`, due or not: `alerts test`), sends it, records
 * the outcome. `retry: false` records a failure as final (a test delivery is tried once).
 */
export async function deliverDue(ctx: Context, signal: AbortSignal, options: { ids?: string[]; retry?: boolean; box?: SecretBox } = {}): Promise<DeliveryResult[]> {
  const db = await ctx.adminDb();
  const settings = deliverySettings(ctx);
  const leaseMs = settings.timeoutMs + leaseMarginMs;
  const claimed = await db.withTransaction(async (client) => claim(client, leaseMs, options.ids));
  if (claimed.length === 0) return [];
  try {
    await ctx.pause('alerts:claimed');
  } catch (error) {
    // Stopped before sending: the rows are due again now rather than when their lease ends.
    await db.pool.query('UPDATE admin_alert_deliveries SET next_attempt_at = now() WHERE id = ANY ($1::bigint[]) AND state = \'pending\'', [claimed.map((c) => c.id)]).catch(() => {});
    throw error;
  }
  const box = options.box ?? (await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: false }));
  const results: DeliveryResult[] = [];
  const queue = [...claimed];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      if (signal.aborted) return;
      results.push(await deliverOne(ctx, db, box, next, settings, signal, options.retry ?? true));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, worker));
  return results;
}

async function claim(client: pg.ClientBase, leaseMs: number, ids: string[] | undefined): Promise<Claimed[]> {
  const due = ids
    ? await client.query("SELECT id FROM admin_alert_deliveries WHERE id = ANY ($1::bigint[]) AND state = 'pending' FOR UPDATE SKIP LOCKED", [ids])
    : await client.query(`SELECT id FROM admin_alert_deliveries WHERE state = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT ${batchSize} FOR UPDATE SKIP LOCKED`);
  if (due.rows.length === 0) return [];
  const { rows } = await client.query(
    `UPDATE admin_alert_deliveries d SET next_attempt_at = now() + ($2::int * interval '1 millisecond')
     FROM admin_alert_endpoints e WHERE d.id = ANY ($1::bigint[]) AND e.id = d.endpoint_id
     RETURNING d.id::text, d.endpoint_id, e.url, e.secret_ciphertext, d.event, d.payload::text AS body, d.attempts`,
    [due.rows.map((r) => r.id), leaseMs],
  );
  return rows.map((r) => ({ id: r.id, endpointId: r.endpoint_id, url: r.url, sealedSecret: r.secret_ciphertext, event: r.event, body: r.body, attempts: r.attempts }));
}

async function deliverOne(ctx: Context, db: AdminDb, box: SecretBox, d: Claimed, settings: DeliverySettings, signal: AbortSignal, retry: boolean): Promise<DeliveryResult> {
  let outcome: SendOutcome;
  try {
    const secret = openEndpointSecret(box, d.endpointId, d.sealedSecret);
    outcome = await sendSigned({ url: d.url, secret, body: d.body, event: d.event, deliveryId: d.id, timeoutMs: settings.timeoutMs, signal, now: () => ctx.clock.now() });
  } catch (error) {
    outcome = { ok: false, status: null, error: messageOf(error), durationMs: 0 };
  }
  const attempts = d.attempts + 1;
  if (signal.aborted && !outcome.ok) {
    // Stopped, not failed: the attempt does not count, and the row is due again at once.
    await db.pool.query('UPDATE admin_alert_deliveries SET next_attempt_at = now() WHERE id = $1', [d.id]).catch(() => {});
    return { delivery: d.id, endpoint: d.endpointId, event: d.event, state: 'pending', attempts: d.attempts, status: null, error: 'interrupted' };
  }
  let state: DeliveryResult['state'];
  if (outcome.ok) {
    state = 'delivered';
    await db.pool.query("UPDATE admin_alert_deliveries SET state = 'delivered', attempts = $2, delivered_at = now(), last_status = $3, next_attempt_at = NULL WHERE id = $1", [d.id, attempts, outcome.status]).catch(db.unreachable);
  } else if (!retry || attempts >= settings.maxAttempts) {
    state = 'failed';
    await db.pool.query("UPDATE admin_alert_deliveries SET state = 'failed', attempts = $2, last_status = $3, last_error = $4, next_attempt_at = NULL WHERE id = $1", [d.id, attempts, outcome.status, outcome.error]).catch(db.unreachable);
  } else {
    state = 'pending';
    const delay = retryDelayMs(attempts, settings.backoffMs, settings.backoffMaxMs);
    await db.pool.query(
      "UPDATE admin_alert_deliveries SET attempts = $2, last_status = $3, last_error = $4, next_attempt_at = now() + ($5::int * interval '1 millisecond') WHERE id = $1",
      [d.id, attempts, outcome.status, outcome.error, Math.round(delay)],
    ).catch(db.unreachable);
  }
  return { delivery: d.id, endpoint: d.endpointId, event: d.event, state, attempts, status: outcome.status, error: outcome.error };
}
