// The app's two backing services and the checks run against them. Both clients are built so
// that an unreachable service is a reported, recoverable condition and never a crash:
// - pg: errors on idle pooled clients arrive as 'error' events on the pool, which must be handled;
//   connect and query are both bounded, so a dead database fails a check in about 2 s.
// - ioredis: 'error' events are handled (an unhandled one would crash the process) and it keeps
//   reconnecting with a capped backoff. With the offline queue off, a command sent while the
//   connection is down fails at once instead of waiting.
// Neither starts a timer of its own at rest: idle pooled connections are kept for 5 minutes (longer
// than the 30 s health check and the worker's 15 s beat, so an idle tenant reuses one connection
// instead of opening one, with a SCRAM login, for every check), and Redis uses TCP keepalive,
// which is the kernel's work, not ours.
import pg from 'pg';
import { Redis } from 'ioredis';
import type { AppEnv } from './env.js';
import { log } from './log.js';
import { inStartupWindow, nextRetryDelay } from './backoff.js';

export const checkTimeoutMs = 2_000;

export interface Deps {
  pool: pg.Pool;
  redis: Redis;
  /** The last connection error Redis reported since it was last ready, if any. */
  redisLastError(): string;
}

/** Turns anything thrown into one short line fit for a JSON health answer (no stack, no newlines). */
export function shortMessage(error: unknown): string {
  let err: unknown = error;
  // Node reports a refused connection to a host with several addresses as an AggregateError
  // whose own message is empty.
  if (err instanceof AggregateError && !err.message && err.errors.length > 0) err = err.errors[0];
  let text = '';
  if (err instanceof Error) {
    text = err.message || (err as NodeJS.ErrnoException).code || err.name;
  } else {
    text = String(err);
  }
  text = text.split('\n')[0]!.trim() || 'unknown error';
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** Rejects with "<what> timed out after N ms" if the promise has not settled by then. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createDeps(config: AppEnv): Deps {
  // Connection settings (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD) come from the
  // environment, read by pg itself.
  const pool = new pg.Pool({
    max: 5,
    connectionTimeoutMillis: checkTimeoutMs,
    query_timeout: checkTimeoutMs,
    idleTimeoutMillis: 300_000,
    application_name: `tenant-app-${config.mode}`,
  });
  let lastPoolError = '';
  pool.on('error', (error) => {
    const message = shortMessage(error);
    if (message !== lastPoolError) log.warn('postgres connection lost', { error: message });
    lastPoolError = message;
  });

  const redis = new Redis({
    host: config.redisHost,
    port: config.redisPort,
    password: config.redisPassword,
    connectionName: `tenant-app-${config.mode}`,
    connectTimeout: checkTimeoutMs,
    commandTimeout: 1_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Keep retrying forever: Redis may start after us or restart under us. While the stack starts
    // every 100 ms, so the first attempts follow its start closely (backoff.ts); then doubling to 2 s.
    retryStrategy: (times) => (inStartupWindow() ? 100 : Math.min(100 * 2 ** Math.min(times - 1, 5), 2_000)),
  });
  // Log a failure once, not on every reconnect attempt.
  let lastRedisError = '';
  redis.on('error', (error) => {
    const message = shortMessage(error);
    if (message !== lastRedisError) log.warn('redis error', { error: message });
    lastRedisError = message;
  });
  redis.on('ready', () => {
    lastRedisError = '';
    log.info('redis connected');
  });

  return { pool, redis, redisLastError: () => lastRedisError };
}

export async function checkDb(deps: Deps): Promise<void> {
  // pg bounds connect and query itself; the outer timeout is a backstop.
  await withTimeout(deps.pool.query('SELECT 1'), checkTimeoutMs + 500, 'database check');
}

/** Throws unless Redis answers. */
export async function assertRedisReady(deps: Deps): Promise<void> {
  if (deps.redis.status !== 'ready') {
    const last = deps.redisLastError();
    throw new Error(`not connected (${deps.redis.status}${last ? `: ${last}` : ''})`);
  }
}

export async function checkRedis(deps: Deps): Promise<void> {
  await assertRedisReady(deps);
  const answer = await withTimeout(deps.redis.ping(), checkTimeoutMs, 'redis PING');
  if (answer !== 'PONG') throw new Error(`unexpected PING answer ${JSON.stringify(answer)}`);
}

/** Closes both clients; bounded, so shutdown never hangs on a dead service. */
export async function closeDeps(deps: Deps, graceMs: number): Promise<void> {
  const closing = Promise.allSettled([
    deps.pool.end(),
    deps.redis.status === 'ready' ? deps.redis.quit() : Promise.resolve(deps.redis.disconnect()),
  ]);
  const finished = await Promise.race([
    closing.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs).unref()),
  ]);
  if (!finished) {
    log.warn('closing database and redis connections took too long; dropping them');
    deps.redis.disconnect();
  }
}

/**
 * Resolves once PostgreSQL and Redis both answer, retrying (backoff.ts: every 100 ms while the
 * stack starts, then doubling to 5 s) and logging only changes; never rejects. Used by the web app at start, so its pool holds a
 * connection and its first readiness answer after the services come up is immediate.
 */
export async function waitForDeps(deps: Deps, isStopped: () => boolean): Promise<void> {
  let delay: number | undefined;
  let last: string | undefined;
  for (;;) {
    const [db, redis] = await Promise.allSettled([checkDb(deps), checkRedis(deps)]);
    const failures = [
      db.status === 'rejected' ? `db: ${shortMessage(db.reason)}` : '',
      redis.status === 'rejected' ? `redis: ${shortMessage(redis.reason)}` : '',
    ].filter(Boolean);
    if (failures.length === 0) {
      log.info('database and redis answer');
      return;
    }
    const message = failures.join('; ');
    if (message !== last) log.warn('waiting for backing services', { error: message });
    last = message;
    if (isStopped()) return;
    delay = nextRetryDelay(delay);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
