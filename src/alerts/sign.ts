import { createHmac, timingSafeEqual } from 'node:crypto';

// Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", sent as
// `X-Tenantctl-Signature: sha256=<hex>` beside `X-Tenantctl-Timestamp: <unix seconds>`. The HMAC
// key is the bytes of the whole secret string as written to the secret file (UTF-8 of
// "whsec_<64 hex>", 70 bytes: the prefix included, the hex not decoded). The timestamp is inside
// the MAC so a receiver refuses deliveries older than its tolerance (verifySignature: 300 s), and
// deduplicates on the payload's `id` within that window (a retry carries the same id).

export const signatureHeader = 'x-tenantctl-signature';
export const timestampHeader = 'x-tenantctl-timestamp';

/** How far a delivery's timestamp may be from the receiver's clock (either way) by default. */
export const defaultToleranceSeconds = 300;

export function signPayload(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * The receiver's check (a reference to copy; the tests use it): the timestamp within
 * `toleranceSeconds` of `nowMs`, and the signature equal to the one recomputed (compared with
 * timingSafeEqual). A receiver should then drop a payload `id` it has already accepted within the
 * window (at-least-once delivery: the same id may come twice).
 */
export function verifySignature(
  secret: string, timestamp: string, body: string, signature: string,
  { toleranceSeconds = defaultToleranceSeconds, nowMs = Date.now() }: { toleranceSeconds?: number; nowMs?: number } = {},
): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(signPayload(secret, Number(timestamp), body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
