import { setTimeout as sleep } from 'node:timers/promises';

/** Time, injectable: tests of waiting logic run on a fake clock instead of real seconds. */
export interface Clock {
  now(): number;
  /** Rejects (AbortError) when the signal fires, so no wait outlives Ctrl-C. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};
