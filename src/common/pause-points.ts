import { writeFile, access, rename } from 'node:fs/promises';
import { TenantctlError } from './errors.js';
import { systemClock, type Clock } from './clock.js';
import { done, notYet, retryUntilDeadline } from './retry.js';

/**
 * Named points in long operations where a test can stop tenantctl deterministically (to kill it
 * there, or to change the world under it) instead of guessing with sleeps. Off unless the CLI was
 * given TENANTCTL_PAUSE_AT; a no-op otherwise.
 */
export type PausePoint = (step: string) => Promise<void>;

export const noPause: PausePoint = async () => {};

/** How long a paused run waits for the test to let it go before giving up. */
const pauseLimitMs = 10 * 60_000;

/**
 * At each step in `steps`, writes "<step> <pid>" to `file` and waits until the file is removed
 * (the test's signal to go on), then continues.
 */
export function pausePoints(steps: ReadonlySet<string>, file: string, { clock = systemClock, signal }: { clock?: Clock; signal?: AbortSignal } = {}): PausePoint {
  return async (step) => {
    if (!steps.has(step)) return;
    // Written aside and renamed into place: a test polling for the file never reads it empty.
    const aside = `${file}.${process.pid}.tmp`;
    await writeFile(aside, `${step} ${process.pid}\n`);
    await rename(aside, file);
    await retryUntilDeadline(async () => {
      try {
        await access(file);
        return notYet(`paused at ${step}: remove ${file} to go on`);
      } catch {
        return done(undefined);
      }
    }, {
      what: `paused at ${step}`,
      deadlineMs: pauseLimitMs,
      clock,
      signal,
      initialDelayMs: 50,
      maxDelayMs: 200,
      onDeadline: () => new TenantctlError('internal', `paused at ${step} for ${pauseLimitMs / 60_000} minutes; nobody removed ${file}`),
    });
  };
}
