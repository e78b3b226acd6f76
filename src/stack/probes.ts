import pg from 'pg';
import { Redis } from 'ioredis';
import { TenantctlError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { probeConnectTimeoutMs } from '../common/timeouts.js';

// Readiness as tenantctl sees it: probes from outside the containers, through the ports the
// Docker host publishes, retried with backoff until a deadline. A probe that gets a final answer
// (a wrong password) fails at once; one that finds nothing listening yet tries again.

export interface ServiceEndpoint {
  host: string;
  port: number;
  password: string;
}

export interface ProbeOptions {
  clock: Clock;
  deadlineMs: number;
  signal?: AbortSignal;
}

/**
 * Logs in to PostgreSQL as `user` and hands the open client to `use`; closes it afterwards.
 * Connection attempts are retried until the deadline: the server may still be starting, and the
 * host's port forwarding can lag the container.
 */
export async function withPostgresLogin<T>(
  db: ServiceEndpoint & { user: string; database: string },
  options: ProbeOptions,
  use: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await retryUntilDeadline(async () => {
    const candidate = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: db.database, connectionTimeoutMillis: probeConnectTimeoutMs });
    try {
      await candidate.connect();
      return done(candidate);
    } catch (error) {
      await candidate.end().catch(() => {});
      if (!isTransient(error)) throw new TenantctlError('notReady', `tenant database on port ${db.port}: ${(error as Error).message}`, { cause: error });
      return notYet((error as Error).message);
    }
  }, {
    what: `waiting for PostgreSQL on port ${db.port}`,
    ...options,
    initialDelayMs: 200,
    onDeadline: (why) => new TenantctlError('notReady', `tenant database on port ${db.port}: ${why}`),
  });
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** AUTH + PING on a Redis through its published port, retried until the deadline. */
export async function probeRedis(redis: ServiceEndpoint, options: ProbeOptions): Promise<void> {
  await retryUntilDeadline(async () => {
    const client = new Redis({ host: redis.host, port: redis.port, password: redis.password, lazyConnect: true, connectTimeout: probeConnectTimeoutMs, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => {}); // reported through the awaited calls below
    try {
      await client.connect();
      const answer = await client.ping();
      if (answer !== 'PONG') throw new TenantctlError('notReady', `tenant redis on port ${redis.port}: PING answered ${answer}`);
      return done(undefined);
    } catch (error) {
      const message = (error as Error).message;
      // Wrong password or a refused command is final; a server not yet listening is not.
      if (error instanceof TenantctlError) throw error;
      if (/WRONGPASS|NOAUTH|invalid password/i.test(message)) throw new TenantctlError('notReady', `tenant redis on port ${redis.port}: ${message}`, { cause: error });
      return notYet(message);
    } finally {
      client.disconnect();
    }
  }, {
    what: `waiting for Redis on port ${redis.port}`,
    ...options,
    initialDelayMs: 250,
    onDeadline: (why) => new TenantctlError('notReady', `tenant redis on port ${redis.port}: ${why}`),
  });
}

function isTransient(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === '57P03' || /Connection terminated|timeout/i.test(String(e.message));
}
