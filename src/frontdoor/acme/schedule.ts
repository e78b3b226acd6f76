import { createHash } from 'node:crypto';

// When a certificate is renewed, and when a failed one is tried again. Pure, for unit tests.

/** Renewal starts when a third of the lifetime is left, and up to a tenth of that third earlier, spread by host name. */
export function renewAt(hostname: string, notBefore: Date, notAfter: Date): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const third = lifetime / 3;
  // Certificates issued together (a batch of tenants) do not all come due in the same run: a
  // stable jitter per host name (the same every run, so a due one stays due).
  const jitter = createHash('sha256').update(hostname).digest().readUInt32BE(0) / 0xffffffff;
  return new Date(notAfter.getTime() - third - jitter * (third / 10));
}

export function renewalDue(hostname: string, notBefore: Date, notAfter: Date, now: Date): boolean {
  return now.getTime() >= renewAt(hostname, notBefore, notAfter).getTime();
}

const firstBackoffMs = 5 * 60_000;
const longestBackoffMs = 24 * 3600_000;

/**
 * After the `failures`-th failure in a row: 5 min, doubling, at most a day, randomised by +-25% so
 * a fleet's doors do not retry in step; never before the CA's Retry-After.
 */
export function nextAttemptAfterFailure(failures: number, now: Date, retryAfterSeconds?: number, random: () => number = Math.random): Date {
  const base = Math.min(longestBackoffMs, firstBackoffMs * 2 ** Math.max(0, failures - 1));
  const delay = Math.max(base * (0.75 + random() * 0.5), (retryAfterSeconds ?? 0) * 1000);
  return new Date(now.getTime() + delay);
}
