import http from 'node:http';
import net from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { TenantctlError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { done, notYet, retryUntilDeadline, type Attempt } from '../common/retry.js';
import { probeConnectTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// Readiness as tenantctl sees it: probes from outside the containers, through the ports the
// Docker host publishes. One attempt each; the caller retries with backoff until its deadline.
// An attempt that gets a final answer (a wrong password) throws; one that finds nothing listening
// yet, or a service still starting, answers "not yet" with why.

export interface ServiceEndpoint {
  host: string;
  port: number;
  password: string;
  /**
   * A relay's unix socket (engine/exec-tunnel.ts) to dial instead of host:port: Redis dials it as
   * its path; node-postgres dials <host>/.s.PGSQL.<port> (host is then the socket's directory).
   */
  socketPath?: string;
}

export interface Probe {
  /** In words, for messages: "PostgreSQL login as tenant_app". */
  what: string;
  attempt(signal?: AbortSignal): Promise<Attempt<void>>;
}

export interface ProbeOptions {
  clock: Clock;
  deadlineMs: number;
  signal?: AbortSignal;
}

/** What a login names: `options` are server settings sent in the startup packet (applied before any query, after the database's and role's own). */
type PostgresLogin = ServiceEndpoint & { user: string; database: string; options?: string };

async function postgresConnect(db: PostgresLogin): Promise<Attempt<pg.Client>> {
  const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: db.database, options: db.options, connectionTimeoutMillis: probeConnectTimeoutMs });
  try {
    await client.connect();
    return done(client);
  } catch (error) {
    await client.end().catch(ignoreFailure('the connect error is the answer; closing a client that never connected has nothing to add'));
    // 57P03: the server is starting up; refused or reset: not listening yet, or still initialising.
    const e = error as { code?: string; message?: string };
    const transient = e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === '57P03' || /Connection terminated|timeout/i.test(String(e.message));
    if (!transient) throw new TenantctlError('notReady', `PostgreSQL on port ${db.port} refused ${db.user}: ${e.message}`, { cause: error });
    return notYet(String(e.message));
  }
}

/** PostgreSQL accepts a login as `user` and answers a query: more than pg_isready, which a socket-only init server also passes. */
export function postgresLoginProbe(db: ServiceEndpoint & { user: string; database: string }): Probe {
  return {
    what: `PostgreSQL login as ${db.user}`,
    async attempt() {
      const connected = await postgresConnect(db);
      if (!connected.done) return connected;
      try {
        await connected.value.query('SELECT 1');
        return done(undefined);
      } catch (error) {
        return notYet((error as Error).message);
      } finally {
        await connected.value.end().catch(ignoreFailure("the probe's answer is decided; a close that fails only means the server already closed it"));
      }
    },
  };
}

/** Runs `use` on one Redis connection (AUTH done); a refused password is final, a closed port is not. */
async function withRedis<T>(redis: ServiceEndpoint, use: (client: Redis) => Promise<Attempt<T>>): Promise<Attempt<T>> {
  const where = redis.socketPath ? { path: redis.socketPath } : { host: redis.host, port: redis.port };
  const client = new Redis({ ...where, password: redis.password, lazyConnect: true, connectTimeout: probeConnectTimeoutMs, commandTimeout: probeConnectTimeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => {}); // reported through the awaited calls below
  try {
    await client.connect();
    return await use(client);
  } catch (error) {
    const message = (error as Error).message;
    if (/WRONGPASS|NOAUTH|invalid password/i.test(message)) throw new TenantctlError('notReady', `Redis on port ${redis.port}: ${message}`, { cause: error });
    return notYet(message);
  } finally {
    client.disconnect();
  }
}

/** Redis answers AUTH and PING. */
export function redisPingProbe(redis: ServiceEndpoint): Probe {
  return {
    what: 'Redis AUTH + PING',
    attempt: () => withRedis(redis, async (client) => {
      const answer = await client.ping();
      return answer === 'PONG' ? done(undefined) : notYet(`PING answered ${answer}`);
    }),
  };
}

/** A key is present in Redis: e.g. a worker's heartbeat, which it sets with a TTL on every beat. */
export function redisKeyProbe(redis: ServiceEndpoint, key: string, what: string): Probe {
  return {
    what,
    attempt: () => withRedis(redis, async (client) => ((await client.exists(key)) === 1 ? done(undefined) : notYet(`no ${key} in Redis yet`))),
  };
}

/**
 * GET url answers `status` (e.g. an app's /api/ready answering 200). node:http, not fetch: against a
 * published port whose container is not listening yet, Docker's proxy accepts and then resets the
 * connection, which http reports at once and fetch (undici) sat on until its timeout.
 */
export function httpProbe(url: string, status = 200, socketPath?: string): Probe {
  return {
    what: `GET ${new URL(url).pathname}`,
    attempt: (signal) => new Promise<Attempt<void>>((resolve) => {
      const request = http.get(url, { agent: false, socketPath, timeout: probeConnectTimeoutMs, signal }, (response) => {
        response.resume(); // the status is the answer; the body is not needed
        resolve(response.statusCode === status ? done(undefined) : notYet(`answered ${response.statusCode}`));
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${probeConnectTimeoutMs / 1000} s`)));
      request.on('error', (error: NodeJS.ErrnoException) => resolve(notYet(error.code ?? error.message)));
    }),
  };
}

/** Something accepts a TCP connection on the port (the service listens; nothing more is known). */
export function tcpProbe(host: string, port: number): Probe {
  return {
    what: `TCP connection to port ${port}`,
    attempt: (signal) => new Promise<Attempt<void>>((resolve) => {
      const socket = net.connect({ host, port, signal, timeout: probeConnectTimeoutMs });
      // Docker's proxy accepts on a published port before the container listens, then resets: a
      // connection counts once it has stayed open briefly without a reset.
      socket.once('connect', () => setTimeout(() => {
        const alive = !socket.destroyed;
        socket.destroy();
        resolve(alive ? done(undefined) : notYet('connection reset'));
      }, 50));
      socket.once('timeout', () => socket.destroy(new Error('timeout')));
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(notYet(error.code ?? error.message)));
    }),
  };
}

/**
 * A tcp check of a port reached through the engine (stack/tenant-ports.ts): asked inside the
 * container, since the relay's local listener accepts before anything behind it is known.
 */
export function tcpInsideProbe(port: number, acceptsInside: (signal?: AbortSignal) => Promise<{ ok: boolean; why: string }>): Probe {
  return {
    what: `TCP connection to port ${port} (inside its container)`,
    attempt: async (signal) => {
      const answer = await acceptsInside(signal);
      return answer.ok ? done(undefined) : notYet(answer.why);
    },
  };
}

/**
 * A webdis-style Redis over HTTP answers GET /PING with PONG, given the token as the basic-auth
 * password of user `tenantctl` (so it reached Redis, with its password). The token is in a header,
 * never in a URL or a log.
 */
export function redisHttpProbe(url: string, token: string, socketPath?: string): Probe {
  return {
    what: 'Redis over HTTP: GET /PING',
    attempt: (signal) => new Promise<Attempt<void>>((resolve) => {
      const authorization = `Basic ${Buffer.from(`tenantctl:${token}`).toString('base64')}`;
      const request = http.get(new URL('/PING', url), { agent: false, socketPath, timeout: probeConnectTimeoutMs, signal, headers: { authorization } }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => { if (body.length < 4096) body += chunk; });
        response.on('end', () => {
          if (response.statusCode === 401 || response.statusCode === 403) resolve(notYet(`answered ${response.statusCode}: the token was refused`));
          else resolve(response.statusCode === 200 && body.includes('PONG') ? done(undefined) : notYet(`answered ${response.statusCode}`));
        });
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${probeConnectTimeoutMs / 1000} s`)));
      request.on('error', (error: NodeJS.ErrnoException) => resolve(notYet(error.code ?? error.message)));
    }),
  };
}

/**
 * Logs in to PostgreSQL as `user`, retried until the deadline, and hands the open client to `use`;
 * closes it afterwards.
 */
export async function withPostgresLogin<T>(
  db: PostgresLogin,
  options: ProbeOptions,
  use: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await retryUntilDeadline(() => postgresConnect(db), {
    what: `waiting for PostgreSQL on port ${db.port}`,
    ...options,
    onDeadline: (why) => new TenantctlError('notReady', `tenant database on port ${db.port}: ${why}`),
  });
  try {
    return await use(client);
  } finally {
    await client.end().catch(ignoreFailure('what use returned or threw is the answer; a failing close means the connection is already gone'));
  }
}
