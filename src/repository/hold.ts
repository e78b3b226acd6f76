import { TenantctlError } from '../common/errors.js';
import { resticLockWaitMs } from '../common/timeouts.js';
import { holdSessionLock } from '../admin-db/session-lock.js';
import type { AdminDb } from '../admin-db/database.js';
import type { RepositoryLocation } from './location.js';
import { repositoryKey } from './password.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// restic 0.14 has no --retry-lock, and a streamed `backup --stdin` cannot be retried once it began:
// a forget or prune (restic's exclusive lock) running while another tenant's backup starts makes that
// backup fail with exit 5. So tenantctl orders them itself, in the admin database every tenantctl
// process of the repository shares: a backup holds the repository's advisory lock shared (backups run
// side by side), forget+prune hold it exclusive (PostgreSQL queues a waiting exclusive request ahead
// of later shared ones, so a prune is not starved). Waiting is bounded (resticLockWaitMs): then exit 5.

/** The advisory lock space of backup repositories (the key is hashtext of the repository's key). */
// Its own space: 23 is the WAL shippers' (lockSpaces.walShipping), 11 and 12 the front door's.
const repositoryLockSpace = 24;

/** Repositories (by key) this process holds exclusive now, how many times. */
const heldExclusive = new Map<string, number>();

/**
 * Runs `restic unlock` only when no tenantctl can be running restic on the repository: this process
 * holds it exclusive, or the exclusive hold is free right now (taken without waiting, for the unlock
 * only). restic calls a lock stale when its host name is ours and its pid is gone, and the agent's
 * container shares the host's name (network_mode host) but not its pids: an unlock while another
 * tenantctl holds the repository could strip the lock of a live restic there. Says whether it ran.
 */
export async function unlockWhenNoneHolds(db: AdminDb, location: RepositoryLocation, unlock: () => Promise<unknown>): Promise<boolean> {
  const key = repositoryKey(location);
  if ((heldExclusive.get(key) ?? 0) > 0) {
    await unlock();
    return true;
  }
  const client = await db.connect();
  try {
    const { rows } = await client.query('SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS got', [repositoryLockSpace, key]);
    if (!rows[0]?.got) return false;
    try {
      await unlock();
      return true;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::int, hashtext($2))', [repositoryLockSpace, key]).catch(ignoreFailure('a broken connection took the session lock with it'));
    }
  } finally {
    client.release();
  }
}

export async function holdRepository(db: AdminDb, location: RepositoryLocation, mode: 'shared' | 'exclusive', waitMs = resticLockWaitMs): Promise<() => Promise<void>> {
  const key = repositoryKey(location);
  const release = await holdSessionLock(db, repositoryLockSpace, key, {
    waitMs,
    shared: mode === 'shared',
    busy: () => new TenantctlError('conflict', `the backup repository ${location.display} has been busy for ${Math.round(waitMs / 1000)} s (${mode === 'shared' ? 'a forget or prune' : 'a backup'} of another tenantctl process); try again`),
  });
  // Counted for unlockWhenNoneHolds: while this process holds it exclusive, no other tenantctl runs restic on it.
  if (mode === 'exclusive') heldExclusive.set(key, (heldExclusive.get(key) ?? 0) + 1);
  return async () => {
    if (mode === 'exclusive') heldExclusive.set(key, Math.max(0, (heldExclusive.get(key) ?? 1) - 1));
    await release();
  };
}
