import { TenantctlError } from './errors.js';
import { systemClock, type Clock } from './clock.js';

/** One try: done with a value, or not yet, with why (kept for the deadline's message). */
export type Attempt<T> = { done: true; value: T } | { done: false; why: string; progressed?: boolean };

export const done = <T>(value: T): Attempt<T> => ({ done: true, value });
/** `progressed`: something moved forward (with maxTotalMs set, the deadline starts afresh). */
export const notYet = (why: string, progressed = false): Attempt<never> => ({ done: false, why, progressed });

export interface RetryOptions {
  /** What is being waited for, in words: "waiting for acme's services". */
  what: string;
  /** Give up this long after the start, or after the last progress when maxTotalMs is set. */
  deadlineMs: number;
  /** With this, progress restarts the deadline, up to this long in all. */
  maxTotalMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
  /** Backoff: the first pause, doubled after each try up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** The error to throw at the deadline, given the last try's why. */
  onDeadline: (lastWhy: string) => Error;
}

/**
 * The one polling loop: tries until `attempt` says done, backing off (100 ms doubling to 1 s by
 * default, back to 100 ms after a try that made progress) and stopping at the deadline or when the signal fires. No fixed sleeps: it returns as
 * soon as the thing is there. An attempt that throws ends the loop with that error (a final
 * failure is not something to wait out).
 */
export async function retryUntilDeadline<T>(attempt: (tryNumber: number) => Promise<Attempt<T>>, options: RetryOptions): Promise<T> {
  const { clock = systemClock, signal, initialDelayMs = 100, maxDelayMs = 1_000 } = options;
  const startedAt = clock.now();
  const hardStop = options.maxTotalMs === undefined ? Infinity : startedAt + options.maxTotalMs;
  let giveUpAt = Math.min(startedAt + options.deadlineMs, hardStop);
  let delay = initialDelayMs;
  for (let tryNumber = 1; ; tryNumber++) {
    if (signal?.aborted) throw new TenantctlError('interrupted', `interrupted while ${options.what}`);
    const result = await attempt(tryNumber);
    if (result.done) return result.value;
    if (result.progressed && options.maxTotalMs !== undefined) giveUpAt = Math.min(clock.now() + options.deadlineMs, hardStop);
    if (clock.now() >= giveUpAt) throw options.onDeadline(result.why);
    // Something just moved (a service came up): what waits on it tends to follow closely, so look
    // again soon instead of after a delay that doubled while nothing happened.
    if (result.progressed) delay = initialDelayMs;
    try {
      await clock.sleep(Math.min(delay, Math.max(0, giveUpAt - clock.now())), signal);
    } catch {
      throw new TenantctlError('interrupted', `interrupted while ${options.what}`);
    }
    delay = Math.min(delay * 2, maxDelayMs);
  }
}
