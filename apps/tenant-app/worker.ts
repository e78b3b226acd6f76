// MODE=worker: beat every 15 s (heartbeat.ts): check PostgreSQL (SELECT 1), then record the beat
// in Redis (SET tenantctl:worker:heartbeat <epoch ms> PX 90000) and in the heartbeat file the
// container health check reads. Quiet at rest: one round trip to each service per beat, nothing
// in between. While PostgreSQL or Redis cannot be reached (not started yet, restarting), it
// retries (backoff.ts: every 100 ms while the stack starts, then 200 ms doubling to 5 s), so the first
// beat follows their start closely; the process never exits for their sake.
// The loop is a chain of timeouts, not setInterval, so a slow round never overlaps the next.
import { rmSync, writeFileSync } from 'node:fs';
import { assertRedisReady, checkDb, checkTimeoutMs, shortMessage, withTimeout, type Deps } from './deps.js';
import { heartbeatFile, heartbeatIntervalMs, heartbeatKey, heartbeatTtlMs } from './heartbeat.js';
import { nextRetryDelay, retryMaxMs } from './backoff.js';
import { log } from './log.js';

function touchHeartbeatFile(at: number): void {
  // Only the file's mtime matters to the health check; the content is for people.
  writeFileSync(heartbeatFile, `${at}\n`);
}

export function removeHeartbeatFile(): void {
  rmSync(heartbeatFile, { force: true });
}

async function beat(deps: Deps, at: number): Promise<void> {
  await checkDb(deps).catch((error: unknown) => {
    throw new Error(`db: ${shortMessage(error)}`);
  });
  try {
    await assertRedisReady(deps);
    await withTimeout(deps.redis.set(heartbeatKey, String(at), 'PX', heartbeatTtlMs), checkTimeoutMs, 'redis SET');
  } catch (error) {
    throw new Error(`redis: ${shortMessage(error)}`);
  }
}

export interface Worker {
  /** Stops the loop and waits for the round in progress, if any. */
  stop(): Promise<void>;
}

export function startWorker(deps: Deps): Worker {
  // A file left by a previous run of this container (restart keeps /tmp) must not vouch for us.
  removeHeartbeatFile();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let lastError: string | undefined | null = null; // null: no round yet
  let retryMs: number | undefined; // undefined: the last round succeeded (or none ran yet)

  /** One beat; returns the delay until the next. */
  const round = async (): Promise<number> => {
    const at = Date.now();
    let error: string | undefined;
    try {
      await beat(deps, at);
    } catch (failure) {
      error = shortMessage(failure);
    }
    if (stopped) return 0;
    if (!error) {
      try {
        touchHeartbeatFile(at);
      } catch (writeError) {
        log.error('cannot write heartbeat file', { file: heartbeatFile, error: shortMessage(writeError) });
      }
    }
    // Log changes of state only, not every beat or retry.
    if (error !== lastError) {
      if (error) log.warn('worker beat failing; retrying', { error });
      else log.info('worker beating', { key: heartbeatKey, intervalMs: heartbeatIntervalMs });
      lastError = error;
    }
    if (!error) {
      retryMs = undefined;
      return heartbeatIntervalMs;
    }
    retryMs = nextRetryDelay(retryMs);
    return retryMs;
  };

  const tick = (): void => {
    const started = Date.now();
    current = round()
      .catch((error: unknown) => {
        log.error('worker round failed', { error: shortMessage(error) });
        return retryMaxMs;
      })
      .then((delay) => {
        current = undefined;
        if (!stopped) timer = setTimeout(tick, Math.max(0, delay - (Date.now() - started)));
      });
  };
  tick();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
      removeHeartbeatFile();
      // A stopped worker is not beating: say so at once rather than when the key expires.
      if (deps.redis.status === 'ready') {
        await withTimeout(deps.redis.del(heartbeatKey), checkTimeoutMs, 'redis DEL').catch(() => undefined);
      }
    },
  };
}
