import { createHmac, timingSafeEqual } from 'node:crypto';

// Webhook signatures: HMAC-SHA256 with the endpoint's secret over "<timestamp>.<body>", sent as
// `X-Tenantctl-Signature: sha256=<hex>` beside `X-Tenantctl-Timestamp: <unix seconds>`. The
// timestamp is inside the MAC so a receiver can refuse old deliveries replayed at it.

export const signatureHeader = 'x-tenantctl-signature';
export const timestampHeader = 'x-tenantctl-timestamp';

export function signPayload(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver does (and the tests): recompute, compare in constant time. */
export function verifySignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  const expected = Buffer.from(signPayload(secret, Number(timestamp), body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
