import { messageOf, TenantctlError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';

/**
 * A server still starting, or its container not there yet: on a swarm a rotation (or its undo)
 * gives every service that reads a rotated secret a new task, PostgreSQL's and Redis's too, so the
 * container may be gone, not yet running or not yet accepting.
 */
const starting = /starting up|not yet accepting|the database system is (shutting down|in recovery)|LOADING|Connection refused|could not connect|no such file or directory|is not running|No such container|has no \S+ container/i;

export interface StartingWait {
  clock: Clock;
  signal?: AbortSignal;
  deadlineMs: number;
}

/**
 * Runs `work`; on a swarm (`kind`) tries it again while its server is still starting (`work` looks
 * its container up itself, so a replaced task is found). Compose recreates neither server, so
 * there a server that is down fails at once instead of waiting out the deadline. Any other
 * failure, or the deadline, is the answer.
 */
export async function whileStarting(kind: 'compose' | 'swarm', wait: StartingWait, what: string, work: () => Promise<void>): Promise<void> {
  if (kind !== 'swarm') return work();
  let last: unknown;
  await retryUntilDeadline(async () => {
    try {
      await work();
      return done(undefined);
    } catch (error) {
      if (!starting.test(messageOf(error))) throw error;
      last = error;
      return notYet(messageOf(error));
    }
  }, {
    what, clock: wait.clock, signal: wait.signal, deadlineMs: wait.deadlineMs, initialDelayMs: 250, maxDelayMs: 2_000,
    onDeadline: () => (last instanceof Error ? last : new TenantctlError('notReady', `${what}: the server did not come up`)),
  });
}
