import pg from 'pg';
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { TenantctlError } from '../common/errors.js';
import { scriptsDir } from '../common/paths.js';
import { adminDbConnectTimeoutMs, adminDbPatienceMs } from '../common/timeouts.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { applyMigrations, readMigrations } from '../common/sql-migrations.js';

/**
 * Advisory lock key spaces: each kind of lock uses PostgreSQL's two-key form with its own first key,
 * so a tenant lock can never collide with the allocation lock of a host (or with the migrations'
 * one-key locks, a separate key space altogether). `move` is held for a whole `tenantctl move`,
 * whose backup and restore take the tenant's own lock in turn.
 */
export const lockSpaces = { tenant: 1, allocation: 2, move: 3 } as const;

/** The admin schema: init-admin-db.sql first, then scripts/admin-migrations/*.sql in name order. */
export function adminMigrationFiles(): string[] {
  const dir = path.join(scriptsDir, 'admin-migrations');
  const later = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().map((f) => path.join(dir, f)) : [];
  return [path.join(scriptsDir, 'init-admin-db.sql'), ...later];
}

/**
 * The admin (control-plane) database: one connection pool, who is acting (for audit rows), and the
 * transaction and lock primitives every concept's SQL uses. What the tables mean belongs to the
 * concept folders (tenants, allocation, modules, api-keys, audit, secrets).
 */
export class AdminDb {
  private constructor(readonly pool: pg.Pool, readonly actor: string, private readonly patienceMs: number) {}

  /** Connects and brings the schema up to date. `maxConnections`: a provision in flight holds one for its lock and briefly uses another. */
  static async open(url: string, actor: string, { maxConnections = 4, patienceMs = adminDbPatienceMs } = {}): Promise<AdminDb> {
    const pool = new pg.Pool({ connectionString: url, max: maxConnections, connectionTimeoutMillis: adminDbConnectTimeoutMs, idleTimeoutMillis: 1_000 });
    pool.on('error', () => {}); // an idle client dropped by the server must not crash the CLI
    // Nor a checked-out one between two queries: the next query on it fails and reports it (exit 8).
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new AdminDb(pool, actor, patienceMs);
    // One attempt: the caller decides whether to retry opening (and whether to start a local database first).
    const client = await pool.connect().catch((error) => {
      void pool.end().catch(() => {});
      throw new TenantctlError('adminDb', `admin database unreachable: ${(error as Error).message}`, { cause: error });
    });
    try {
      await applyMigrations(client, 'admin_schema_migrations', await readMigrations(adminMigrationFiles()));
    } catch (error) {
      throw new TenantctlError('adminDb', `admin database schema: ${(error as Error).message}`, { cause: error });
    } finally {
      client.release();
    }
    return db;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /**
   * A pooled connection. A busy host answers slowly (ten provisions at once on two cores made
   * 10 s connection timeouts happen), so connecting is retried for a while before giving up: every
   * caller's work either is idempotent or has not started yet when it connects.
   */
  async connect(): Promise<pg.PoolClient> {
    return retryUntilDeadline(async () => {
      try {
        return done(await this.pool.connect());
      } catch (error) {
        if (!isTransientConnectionError(error)) throw new TenantctlError('adminDb', `admin database unreachable: ${(error as Error).message}`, { cause: error });
        return notYet((error as Error).message);
      }
    }, {
      what: 'connecting to the admin database',
      deadlineMs: this.patienceMs,
      initialDelayMs: 250,
      maxDelayMs: 2_000,
      onDeadline: (why) => new TenantctlError('adminDb', `admin database unreachable: ${why}`),
    });
  }

  /** Runs work in one transaction on one pooled client; rolls back if it throws. */
  async withTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      // A failing query is the admin database's failure (exit 8); typed errors pass through.
      if (!(error instanceof TenantctlError) && isDatabaseError(error)) return this.unreachable(error);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Holds a session-level advisory lock on `name` in `space` until the returned release function is
   * called; undefined when another session holds it. If the session ends (a crash, kill -9), the
   * server releases the lock itself.
   */
  async tryLock(space: number, name: string): Promise<(() => Promise<void>) | undefined> {
    const client = await this.connect();
    // The lock lives as long as this connection: if the server drops it, the lock is gone too, and
    // the run's next query fails and says the admin database is unreachable.
    try {
      const { rows } = await client.query('SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked', [space, name]);
      if (!rows[0].locked) {
        client.release();
        return undefined;
      }
    } catch (error) {
      client.release(true);
      return this.unreachable(error);
    }
    return async () => {
      await client.query('SELECT pg_advisory_unlock($1::int, hashtext($2))', [space, name]).catch(() => {});
      client.release();
    };
  }

  /** For `.catch(db.unreachable)` on a query: a failing admin database is exit 8 with one line. */
  unreachable = (error: unknown): never => {
    throw new TenantctlError('adminDb', `admin database query failed: ${(error as Error).message}`, { cause: error });
  };

  /** Database errors become exit 8 with one line; typed errors (not found, usage) pass through. */
  guard<T>(work: Promise<T>): Promise<T> {
    return work.catch((error) => {
      if (error instanceof TenantctlError) throw error;
      return this.unreachable(error);
    });
  }
}

/** Errors that come from the database or the connection to it, as opposed to bugs in our code. */
export function isDatabaseError(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) return true;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && (/^[0-9A-Z]{5}$/.test(code) || /^E[A-Z]+$/.test(code))) return true;
  return isTransientConnectionError(error);
}

/** Worth another try: refused, reset, timed out, the server starting or shutting down, too many clients. */
export function isTransientConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P03', '53300', '57P01'].includes(String(e?.code))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|the database system is (starting up|shutting down)/i.test(String(e?.message));
}
