import pg from 'pg';
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { TenantctlError } from '../common/errors.js';
import { scriptsDir } from '../common/paths.js';
import { adminDbConnectTimeoutMs } from '../common/timeouts.js';
import { applyMigrations, readMigrations } from '../common/sql-migrations.js';

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
  private constructor(readonly pool: pg.Pool, readonly actor: string) {}

  /** Connects and brings the schema up to date. `maxConnections`: a provision in flight holds one for its lock and briefly uses another. */
  static async open(url: string, actor: string, { maxConnections = 4 } = {}): Promise<AdminDb> {
    const pool = new pg.Pool({ connectionString: url, max: maxConnections, connectionTimeoutMillis: adminDbConnectTimeoutMs, idleTimeoutMillis: 1_000 });
    pool.on('error', () => {}); // an idle client dropped by the server must not crash the CLI
    const db = new AdminDb(pool, actor);
    const client = await db.connect();
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

  async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw new TenantctlError('adminDb', `admin database unreachable: ${(error as Error).message}`, { cause: error });
    }
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
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Holds a session-level advisory lock named `key` until the returned release function is
   * called; undefined when another session holds it.
   */
  async tryLock(key: string): Promise<(() => Promise<void>) | undefined> {
    const client = await this.connect();
    const { rows } = await client.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [key]);
    if (!rows[0].locked) {
      client.release();
      return undefined;
    }
    return async () => {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => {});
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
