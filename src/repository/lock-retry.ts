import { TenantctlError } from '../common/errors.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// restic 0.14 has no --retry-lock: a command that finds the repository locked fails at once. A lock
// is either stale (a restic killed with -9, a reboot, an OOM during prune: it stays forever) or held
// by a live restic (another tenant's backup, forget or prune). So, once, `restic unlock` (without
// --remove-all it removes only stale locks: older than 30 minutes, or of a process of this host
// that is gone) and retry; then keep retrying with backoff for a bounded time while a live one holds it.

/** restic's message for a lock it could not take. */
export const isLockError = (error: unknown): boolean =>
  error instanceof TenantctlError && error.kind === 'conflict' && /already locked|unable to create lock|lock .*(held|exclusive)/i.test(error.message);

export interface LockRetryInput {
  /** The whole wait for a live lock, after the unlock (resticLockWaitMs). */
  waitMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** `restic unlock`: stale locks only. */
  unlock: () => Promise<unknown>;
}

/** Runs `once`; on a lock error unlocks stale locks once and retries, then backs off (1 s, 2 s, ... 30 s) until waitMs passed. */
export async function withLockRetry<T>(once: () => Promise<T>, input: LockRetryInput): Promise<T> {
  let unlocked = false;
  let deadline = Number.POSITIVE_INFINITY;
  let delay = 1000;
  for (;;) {
    try {
      return await once();
    } catch (error) {
      if (!isLockError(error)) throw error;
      if (!unlocked) {
        unlocked = true;
        await input.unlock().catch(ignoreFailure('a failed unlock leaves the retries below to wait; their lock error is the answer'));
        deadline = input.now() + input.waitMs;
        continue;
      }
      if (input.now() + delay > deadline) throw withUnlockHint(error as TenantctlError, input.waitMs);
      await input.sleep(delay);
      delay = Math.min(delay * 2, 30_000);
    }
  }
}

/** The exit-5 message names what frees a lock only a dead restic could have left. */
export function withUnlockHint(error: TenantctlError, waitedMs?: number): TenantctlError {
  const waited = waitedMs === undefined ? '' : ` (waited ${Math.round(waitedMs / 1000)} s)`;
  return new TenantctlError('conflict', `${error.message}${waited}; another restic holds the repository's lock: if none runs, \`restic unlock\` removes a stale one (\`restic unlock --remove-all\` every one)`, { cause: error, details: error.details });
}
