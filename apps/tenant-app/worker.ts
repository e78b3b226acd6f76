// MODE=worker: once a second, check PostgreSQL (SELECT 1) and Redis (PING, then INCR a
// heartbeat counter), and record the outcome in the heartbeat file that healthcheck.ts reads.
// The loop is a chain of timeouts, not setInterval, so a slow round never overlaps the next.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { assertRedisReady, checkDb, checkTimeoutMs, shortMessage, withTimeout, type Deps } from './deps.js';
import { heartbeatFile, type Heartbeat } from './heartbeat.js';
import { log } from './log.js';

const intervalMs = 1_000;

function writeHeartbeat(beat: Heartbeat): void {
  // Write then rename, so the health check never reads a half-written file.
  const tmp = `${heartbeatFile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(beat) + '\n');
  renameSync(tmp, heartbeatFile);
}

export function removeHeartbeat(): void {
  rmSync(heartbeatFile, { force: true });
}

async function redisBeat(deps: Deps): Promise<void> {
  await assertRedisReady(deps);
  const pong = await withTimeout(deps.redis.ping(), checkTimeoutMs, 'redis PING');
  if (pong !== 'PONG') throw new Error(`unexpected PING answer ${JSON.stringify(pong)}`);
  await withTimeout(deps.redis.incr('worker:heartbeats'), checkTimeoutMs, 'redis INCR');
}

export interface Worker {
  /** Stops the loop and waits for the round in progress, if any. */
  stop(): Promise<void>;
}

export function startWorker(deps: Deps): Worker {
  // A file left by a previous run of this container (restart keeps /tmp) must not vouch for us.
  removeHeartbeat();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let lastError: string | undefined | null = null; // null: no round yet

  const round = async (): Promise<void> => {
    const at = Date.now();
    const failures: string[] = [];
    const [db, redis] = await Promise.allSettled([checkDb(deps), redisBeat(deps)]);
    if (db.status === 'rejected') failures.push(`db: ${shortMessage(db.reason)}`);
    if (redis.status === 'rejected') failures.push(`redis: ${shortMessage(redis.reason)}`);
    const error = failures.length > 0 ? failures.join('; ') : undefined;
    if (stopped) return;
    try {
      writeHeartbeat(error ? { ok: false, at, error } : { ok: true, at });
    } catch (writeError) {
      log.error('cannot write heartbeat file', { file: heartbeatFile, error: shortMessage(writeError) });
    }
    // Log changes of state only, not every second.
    if (error !== lastError) {
      if (error) log.warn('worker check failing', { error });
      else log.info('worker checks ok');
      lastError = error;
    }
  };

  const tick = (): void => {
    const started = Date.now();
    current = round()
      .catch((error: unknown) => log.error('worker round failed', { error: shortMessage(error) }))
      .finally(() => {
        current = undefined;
        if (!stopped) timer = setTimeout(tick, Math.max(0, intervalMs - (Date.now() - started)));
      });
  };
  tick();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
      removeHeartbeat();
    },
  };
}
