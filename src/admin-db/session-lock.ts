import { ignoreFailure } from '../common/ignore-failure.js';
import type { AdminDb } from './database.js';

/**
 * Waits for an advisory lock held by a connection of its own (a session lock, not a transaction's)
 * for at most `waitMs`, and returns its release. Timed out (55P03): `busy()` is thrown, the error
 * that says who holds it; any other failure is the admin database's (exit 8). The front door's
 * reloads and ACME issuance and the backup repository order their work this way.
 */
export async function holdSessionLock(db: AdminDb, space: number, key: string, { waitMs, shared = false, busy }: { waitMs: number; shared?: boolean; busy: () => Error }): Promise<() => Promise<void>> {
  const client = await db.connect();
  try {
    await client.query(`SET lock_timeout = ${Math.round(waitMs)}`);
    await client.query(`SELECT ${shared ? 'pg_advisory_lock_shared' : 'pg_advisory_lock'}($1::int, hashtext($2))`, [space, key]);
  } catch (error) {
    client.release(true);
    if ((error as { code?: string }).code === '55P03') throw busy();
    return db.unreachable(error);
  }
  return async () => {
    await client.query(`SELECT ${shared ? 'pg_advisory_unlock_shared' : 'pg_advisory_unlock'}($1::int, hashtext($2))`, [space, key]).catch(ignoreFailure('a connection that broke took the session lock with it'));
    await client.query('RESET lock_timeout').catch(ignoreFailure('a broken connection has no setting left; the pool drops it on release'));
    client.release();
  };
}
