import { randomUUID } from 'node:crypto';
import type { AdminDb } from '../admin-db/database.js';
import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { openSecretBox, type SecretBox } from '../secrets/master-key.js';
import { openEndpointSecret } from './endpoints.js';
import { signPayload, signatureHeader, timestampHeader } from './sign.js';
import { targetRefusal } from './target.js';

// Sending deliveries: due rows are claimed one at a time (a claim token and a lease for that one
// request, so a second sender does not send the same row at the same time), POSTed with their
// signature, and updated with the outcome by the token's holder only: delivered, or the error kept
// and the next attempt set by exponential backoff, or failed after maxAttempts.

/**
 * How long a claimed delivery is not claimed again: its one request's bound plus a margin. A
 * watch killed after claiming leaves its row leased; they are due again when the lease ends, so a
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
    await response.arrayBuffer().catch(ignoreFailure('the body is read only to free the connection: the status is the answer'));
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
  token: string;
  endpointId: string;
  url: string;
  allowPrivate: boolean;
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

const claimedColumns = `d.id::text, d.claim_token::text AS token, d.endpoint_id, e.url, e.allow_private, e.secret_ciphertext, d.event, d.payload::text AS body, d.attempts`;
const toClaimed = (r: any): Claimed => ({
  id: r.id, token: r.token, endpointId: r.endpoint_id, url: r.url, allowPrivate: r.allow_private, sealedSecret: r.secret_ciphertext, event: r.event, body: r.body, attempts: r.attempts,
});

/**
 * Claims the oldest due row, alone: a new claim token, and a lease (next_attempt_at) covering this
 * one request only. One statement; SKIP LOCKED lets two senders take different rows.
 */
async function claimOne(db: AdminDb, leaseMs: number): Promise<Claimed | undefined> {
  const { rows } = await db.pool.query(
    `UPDATE admin_alert_deliveries d SET claim_token = $1::uuid, next_attempt_at = now() + ($2::int * interval '1 millisecond')
     FROM admin_alert_endpoints e
     WHERE d.id = (SELECT id FROM admin_alert_deliveries WHERE state = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
       AND e.id = d.endpoint_id
     RETURNING ${claimedColumns}`,
    [randomUUID(), leaseMs],
  ).catch(db.unreachable);
  return rows[0] ? toClaimed(rows[0]) : undefined;
}

/** Rows queued already claimed with `token` (alerts test, raise.ts queueClaimedIn): read to be sent by their claimer. */
async function readClaimed(db: AdminDb, ids: string[], token: string): Promise<Claimed[]> {
  const { rows } = await db.pool.query(
    `SELECT ${claimedColumns} FROM admin_alert_deliveries d JOIN admin_alert_endpoints e ON e.id = d.endpoint_id
     WHERE d.id = ANY ($1::bigint[]) AND d.state = 'pending' AND d.claim_token = $2::uuid ORDER BY d.id`,
    [ids, token],
  ).catch(db.unreachable);
  return rows.map(toClaimed);
}

/** Gives claimed rows back (due again now, or at `nextAt`), with `error` kept when there is one; only rows this claim still holds. */
async function release(db: AdminDb, claimed: Claimed[], error: string | null, delayMs = 0): Promise<void> {
  for (const d of claimed) {
    await db.pool.query(
      `UPDATE admin_alert_deliveries SET claim_token = NULL, next_attempt_at = now() + ($3::int * interval '1 millisecond'), last_error = coalesce($4, last_error)
       WHERE id = $1 AND state = 'pending' AND claim_token = $2::uuid`,
      [d.id, d.token, Math.round(delayMs), error],
    ).catch(ignoreFailure('a give-back that fails leaves the claim to expire with its lease: the row is due again then, never lost'));
  }
}

/**
 * One pass: claims due rows one at a time (each with its own token and a lease for its one
 * request), sends each, records the outcome only where the claim still holds. `claimed`: rows the
 * caller queued already claimed with that token (`alerts test`), sent instead of due ones, once
 * (`retry: false` records a failure as final).
 */
export async function deliverDue(ctx: Context, signal: AbortSignal, options: { claimed?: { ids: string[]; token: string }; retry?: boolean; box?: SecretBox } = {}): Promise<DeliveryResult[]> {
  const db = await ctx.adminDb();
  const settings = deliverySettings(ctx);
  const leaseMs = settings.timeoutMs + leaseMarginMs;
  const given = options.claimed ? await readClaimed(db, options.claimed.ids, options.claimed.token) : undefined;
  const first = given ? given.shift() : await claimOne(db, leaseMs);
  if (!first) return [];
  try {
    await ctx.pause('alerts:claimed');
  } catch (error) {
    // Stopped before sending: the row is due again now rather than when its lease ends.
    await release(db, [first, ...(given ?? [])], null);
    throw error;
  }
  let box = options.box;
  if (!box) {
    try {
      box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: false });
    } catch (error) {
      // Claimed but cannot be signed: the cause is kept on the row, which is due again after the backoff.
      await release(db, [first, ...(given ?? [])], `cannot open the master key: ${messageOf(error)}`.slice(0, 500), settings.backoffMs);
      throw error;
    }
  }
  const opened = box;
  const results: DeliveryResult[] = [];
  let budget = given ? 0 : batchSize - 1;
  const pending = given ?? [];
  const next = async (): Promise<Claimed | undefined> => {
    if (pending.length > 0) return pending.shift();
    if (budget <= 0 || signal.aborted) return undefined;
    budget -= 1;
    return claimOne(db, leaseMs);
  };
  pending.unshift(first);
  const worker = async () => {
    for (let d = await next(); d; d = await next()) {
      if (signal.aborted) {
        await release(db, [d, ...pending.splice(0)], null);
        return;
      }
      results.push(await deliverOne(ctx, db, opened, d, settings, signal, options.retry ?? true));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

async function deliverOne(ctx: Context, db: AdminDb, box: SecretBox, d: Claimed, settings: DeliverySettings, signal: AbortSignal, retry: boolean): Promise<DeliveryResult> {
  let outcome: SendOutcome;
  try {
    // Checked again at send time: the name may resolve elsewhere than when the endpoint was added.
    const refused = await targetRefusal(d.url, d.allowPrivate);
    if (refused) {
      outcome = { ok: false, status: null, error: `target refused: ${refused}`, durationMs: 0 };
    } else {
      const secret = openEndpointSecret(box, d.endpointId, d.sealedSecret);
      outcome = await sendSigned({ url: d.url, secret, body: d.body, event: d.event, deliveryId: d.id, timeoutMs: settings.timeoutMs, signal, now: () => ctx.clock.now() });
    }
  } catch (error) {
    outcome = { ok: false, status: null, error: messageOf(error), durationMs: 0 };
  }
  const attempts = d.attempts + 1;
  if (signal.aborted && !outcome.ok) {
    // Stopped, not failed: the attempt does not count, and the row is due again at once.
    await release(db, [d], null);
    return { delivery: d.id, endpoint: d.endpointId, event: d.event, state: 'pending', attempts: d.attempts, status: null, error: 'interrupted' };
  }
  // Every outcome is written only where this claim still holds (a lease that ran out and was
  // claimed again by another sender is that sender's to record).
  const mine = 'WHERE id = $1 AND state = \'pending\' AND claim_token = $2::uuid';
  let state: DeliveryResult['state'];
  let rowCount: number | null;
  if (outcome.ok) {
    state = 'delivered';
    ({ rowCount } = await db.pool.query(`UPDATE admin_alert_deliveries SET state = 'delivered', attempts = $3, delivered_at = now(), last_status = $4, next_attempt_at = NULL, claim_token = NULL ${mine}`, [d.id, d.token, attempts, outcome.status]).catch(db.unreachable));
  } else if (!retry || attempts >= settings.maxAttempts) {
    state = 'failed';
    ({ rowCount } = await db.pool.query(`UPDATE admin_alert_deliveries SET state = 'failed', attempts = $3, last_status = $4, last_error = $5, next_attempt_at = NULL, claim_token = NULL ${mine}`, [d.id, d.token, attempts, outcome.status, outcome.error]).catch(db.unreachable));
  } else {
    state = 'pending';
    const delay = retryDelayMs(attempts, settings.backoffMs, settings.backoffMaxMs);
    ({ rowCount } = await db.pool.query(
      `UPDATE admin_alert_deliveries SET attempts = $3, last_status = $4, last_error = $5, next_attempt_at = now() + ($6::int * interval '1 millisecond'), claim_token = NULL ${mine}`,
      [d.id, d.token, attempts, outcome.status, outcome.error, Math.round(delay)],
    ).catch(db.unreachable));
  }
  if (rowCount !== 1) return { delivery: d.id, endpoint: d.endpointId, event: d.event, state: 'pending', attempts: d.attempts, status: outcome.status, error: 'claim lost (its lease ended and another sender took it); outcome not recorded' };
  return { delivery: d.id, endpoint: d.endpointId, event: d.event, state, attempts, status: outcome.status, error: outcome.error };
}
