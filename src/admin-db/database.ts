import pg from 'pg';
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { TenantctlError, messageOf } from '../common/errors.js';
import { scriptsDir } from '../common/paths.js';
import { adminDbConnectTimeoutMs, adminDbPatienceMs } from '../common/timeouts.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { applyMigrations, readMigrations } from '../common/sql-migrations.js';
import { concerns, currentLockScope, mayReenter, type LockScope } from '../common/lock-scope.js';
import { ignoreFailure } from '../common/ignore-failure.js';

/**
 * Advisory lock key spaces: each kind of lock uses PostgreSQL's two-key form with its own first key,
 * so a tenant lock can never collide with the allocation lock of a host (or with the migrations'
 * one-key locks, a separate key space altogether). 3 was a move's own lock, before a move held the
 * tenant's lock for its whole run: not reused, so an older tenantctl's lock can never mean another.
 * 4 is the agent's leadership of a host (src/agent/leader.ts).
 */
export const lockSpaces = { tenant: 1, allocation: 2, agentLeader: 4, walShipping: 23 } as const;

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
  static async open(url: string, actor: string, { maxConnections = 4, patienceMs = adminDbPatienceMs, idleTimeoutMs = 1_000 } = {}): Promise<AdminDb> {
    // idleTimeoutMs: a command ends soon and lets idle connections go at once; the agent, which asks
    // every few seconds, keeps one open (a new login costs a SCRAM exchange on both sides).
    const pool = new pg.Pool({ connectionString: url, max: maxConnections, connectionTimeoutMillis: adminDbConnectTimeoutMs, idleTimeoutMillis: idleTimeoutMs });
    pool.on('error', () => {}); // an idle client dropped by the server must not crash the CLI
    // Nor a checked-out one between two queries: the next query on it fails and reports it (exit 8).
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new AdminDb(pool, actor, patienceMs);
    // One attempt: the caller decides whether to retry opening (and whether to start a local database first).
    const client = await pool.connect().catch((error) => {
      void pool.end().catch(ignoreFailure('ending a pool that never connected has nothing to report: the connect error (thrown below) is the cause'));
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
      await this.requireLocks(client);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(ignoreFailure("the transaction's own error is the cause; a ROLLBACK on a broken connection has nothing to undo"));
      // A failing query is the admin database's failure (exit 8); typed errors pass through.
      if (!(error instanceof TenantctlError) && isDatabaseError(error)) return this.unreachable(error);
      throw error;
    } finally {
      client.release();
    }
  }

  /** The advisory locks this process holds, each on its own connection (see tryLock). */
  private readonly held = new Map<string, HeldLock>();

  /**
   * Holds a session-level advisory lock on `name` in `space` until the returned release function is
   * called; undefined when another session holds it. If the session ends (a crash, kill -9), the
   * server releases the lock itself.
   *
   * Re-entrant within this process: a verb that holds a tenant's lock for its whole run (move,
   * restore) calls others (backup, provision, start) that take the same lock; they get it at once,
   * and only the outermost release lets it go. Re-entry is the same task's own nesting only (its lock
   * scope, or one nested in it: lock-scope.ts): a lock another task of this process holds (another
   * job of the agent) is refused, as another process's is, so two tasks never work on one tenant at
   * once and one task's release never ends another's hold.
   */
  async tryLock(space: number, name: string): Promise<(() => Promise<void>) | undefined> {
    const key = `${space}:${name}`;
    const mine = this.held.get(key);
    if (mine && !mayReenter(mine.scope, currentLockScope())) return undefined;
    if (mine) {
      // A lock this process lost is not held by anyone it can lend it to.
      if (mine.lost) throw lostLock(mine);
      mine.depth += 1;
      return async () => {
        mine.depth -= 1;
      };
    }
    const client = await this.connect();
    // The lock lives as long as this connection: if the server drops it, the lock is gone too, and
    // the run's next transaction (fenced, below) stops it with that cause.
    let session: { pid: number; started: string };
    try {
      const { rows } = await client.query(
        'SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked, pg_backend_pid() AS pid, (SELECT backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS started',
        [space, name],
      );
      if (!rows[0].locked) {
        client.release();
        return undefined;
      }
      session = { pid: rows[0].pid, started: rows[0].started };
    } catch (error) {
      client.release(true);
      return this.unreachable(error);
    }
    const lock: HeldLock = { space, name, ...session, depth: 1, scope: currentLockScope() };
    // A connection the server (or the network) ended says so here first; the fence below also asks.
    const onEnd = () => {
      lock.lost ??= 'its admin database connection ended';
    };
    const onError = (error: Error) => {
      lock.lost ??= `its admin database connection failed: ${error.message}`;
    };
    client.on('end', onEnd);
    client.on('error', onError);
    this.held.set(key, lock);
    return async () => {
      if (lock.depth > 1) {
        lock.depth -= 1;
        return;
      }
      this.held.delete(key);
      // The pooled connection outlives the lock: its listeners must not pile up (an agent takes
      // locks for days) nor mark a released lock lost.
      client.off('end', onEnd);
      client.off('error', onError);
      // A connection that is gone took the lock with it: it is destroyed, not returned to the pool.
      const unlocked = lock.lost ? false : await client.query('SELECT pg_advisory_unlock($1::int, hashtext($2))', [space, name]).then(() => true, () => false);
      client.release(unlocked ? undefined : true);
    };
  }

  /**
   * requireLocks, as an answer: undefined when every lock this process holds is still its own, else
   * why not (lost, or the admin database cannot say). What an undo asks before its first effect:
   * an undo under a lock that may be someone else's now would undo their work.
   */
  async locksProven(): Promise<TenantctlError | undefined> {
    try {
      await this.requireLocks();
      return undefined;
    } catch (error) {
      return error instanceof TenantctlError ? error : new TenantctlError('adminDb', messageOf(error), { cause: error });
    }
  }

  /** The session (backend pid and start) holding this process's lock, to record or fence with; undefined when not held. */
  lockSession(space: number, name: string): { pid: number; started: string } | undefined {
    const lock = this.held.get(`${space}:${name}`);
    return lock && lock.lost === undefined ? { pid: lock.pid, started: lock.started } : undefined;
  }

  /**
   * Whether ONE lock of this process is still its own (not every lock, as requireLocks): 'held' when
   * pg_locks shows it on the session that took it, 'lost' when that session is known gone (its
   * connection ended, or the database answers that no such lock is held), 'unknown' when the
   * database cannot answer now (a leader keeps leading through a blip: its lock is fine unless its
   * own connection is gone).
   */
  async proveLock(space: number, name: string): Promise<'held' | 'lost' | 'unknown'> {
    const lock = this.held.get(`${space}:${name}`);
    if (!lock || lock.lost !== undefined) return 'lost';
    let rows: unknown[];
    try {
      ({ rows } = await this.pool.query(
        `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid::bigint = $2
            AND l.objid::bigint = (hashtext($3)::bigint & 4294967295) AND l.pid = $1 AND a.backend_start::text = $4`,
        [lock.pid, space, name, lock.started],
      ));
    } catch {
      return lock.lost === undefined ? 'unknown' : 'lost';
    }
    if (this.held.get(`${space}:${name}`) !== lock) return 'lost';
    if (rows.length === 0) {
      lock.lost = 'its admin database session is gone (the admin database restarted, or the connection broke)';
      return 'lost';
    }
    return 'held';
  }

  /** Whether the calling task holds the lock (any depth): taken by it or by a task it is nested in. */
  holds(space: number, name: string): boolean {
    const lock = this.held.get(`${space}:${name}`);
    return lock !== undefined && mayReenter(lock.scope, currentLockScope());
  }

  /**
   * Fencing: proves that every advisory lock this process holds is still held by the session that
   * took it (its backend is alive, with the same start time, and holds an advisory lock in that
   * space). When the admin database restarted, or the lock's connection broke, another tenantctl
   * may hold the lock now: the verb must stop before its next change, with that cause. Every
   * transaction runs this first (withTransaction), so no state change is ever made under a lost
   * lock; verbs call it before effects outside the database (a rollback's removals). Only the locks
   * of the caller's task count (lock-scope.ts): another tenant's lost lock in the same batch is that
   * tenant's failure, not this one's.
   */
  async requireLocks(client?: pg.ClientBase): Promise<void> {
    if (this.held.size === 0) return;
    const from = currentLockScope();
    const locks = [...this.held.values()].filter((l) => concerns(l.scope, from));
    if (locks.length === 0) return;
    const gone = locks.find((l) => l.lost !== undefined);
    if (gone) throw lostLock(gone);
    const ask = async (c: pg.ClientBase) => (await c.query(
      `SELECT l.pid, a.backend_start::text AS started, l.classid::int AS space FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.pid = ANY($1::int[])`,
      [locks.map((l) => l.pid)],
    )).rows;
    let rows: Array<{ pid: number; started: string; space: number }>;
    try {
      if (client) rows = await ask(client);
      else {
        const pooled = await this.connect();
        try {
          rows = await ask(pooled);
        } finally {
          pooled.release();
        }
      }
    } catch (error) {
      if (error instanceof TenantctlError) throw error;
      return this.unreachable(error);
    }
    for (const lock of locks) {
      // Released (or released and taken anew) while the query ran: not this check's to judge. Another
      // holder in this process (a batch provisions several tenants at once) releases its lock freely.
      if (this.held.get(`${lock.space}:${lock.name}`) !== lock) continue;
      if (!rows.some((r) => r.pid === lock.pid && r.started === lock.started && r.space === lock.space)) {
        lock.lost = 'its admin database session is gone (the admin database restarted, or the connection broke)';
        throw lostLock(lock);
      }
    }
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

interface HeldLock {
  space: number;
  name: string;
  /** The backend holding it, and when that backend started (a reused pid is not the same session). */
  pid: number;
  started: string;
  /** How many nested holders share it (see tryLock). */
  depth: number;
  /** Why it is known to be gone, once it is. */
  lost?: string;
  /** The task that took it (see lock-scope.ts): only that task's checks, and its inner ones, ask about it. */
  scope: LockScope | undefined;
}

const spaceNames: Record<number, string> = Object.fromEntries(Object.entries(lockSpaces).map(([name, space]) => [space, name]));

/**
 * The lock a verb holds is gone (the admin database restarted, its connection broke): another
 * tenantctl may hold it now. Exit 8. Whoever meets it changes nothing more — no rollback, no undo:
 * those would act on what the other tenantctl is doing — and the next command settles the journal.
 */
export class LostLockError extends TenantctlError {
  constructor(message: string) {
    super('adminDb', message);
  }
}

function lostLock(lock: HeldLock): LostLockError {
  return new LostLockError(`the ${spaceNames[lock.space] ?? 'advisory'} lock on ${lock.name} was lost (${lock.lost}); stopped before the next change, so that no other tenantctl's work is undone: run the command again`);
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
