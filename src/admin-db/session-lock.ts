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
  // A connection that ends or fails while held took the lock with it; the listener also keeps its
  // 'error' from crashing the process (a checked-out client has no pool listener).
  let lost = false;
  const onLost = () => {
    lost = true;
  };
  client.on('end', onLost);
  client.on('error', onLost);
  return async () => {
    const unlocked = !lost && await client
      .query(`SELECT ${shared ? 'pg_advisory_unlock_shared' : 'pg_advisory_unlock'}($1::int, hashtext($2)) AS unlocked`, [space, key])
      .then((r) => r.rows[0]?.unlocked === true, () => false);
    // Only a connection known to hold nothing more goes back to the pool, its setting reset; any
    // other is destroyed (a lock still held on a pooled connection would block the next holder forever).
    const reset = unlocked && await client.query('RESET lock_timeout').then(() => true, () => false);
    client.off('end', onLost);
    client.off('error', onLost);
    client.release(reset ? undefined : true);
  };
}
