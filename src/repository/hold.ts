import { TenantctlError } from '../common/errors.js';
import { resticLockWaitMs } from '../common/timeouts.js';
import { holdSessionLock } from '../admin-db/session-lock.js';
import type { AdminDb } from '../admin-db/database.js';
import type { RepositoryLocation } from './location.js';
import { repositoryKey } from './password.js';

// restic 0.14 has no --retry-lock, and a streamed `backup --stdin` cannot be retried once it began:
// a forget or prune (restic's exclusive lock) running while another tenant's backup starts makes that
// backup fail with exit 5. So tenantctl orders them itself, in the admin database every tenantctl
// process of the repository shares: a backup holds the repository's advisory lock shared (backups run
// side by side), forget+prune hold it exclusive (PostgreSQL queues a waiting exclusive request ahead
// of later shared ones, so a prune is not starved). Waiting is bounded (resticLockWaitMs): then exit 5.

/** The advisory lock space of backup repositories (the key is hashtext of the repository's key). */
// Its own space: 23 is the WAL shippers' (lockSpaces.walShipping), 11 and 12 the front door's.
const repositoryLockSpace = 24;

export async function holdRepository(db: AdminDb, location: RepositoryLocation, mode: 'shared' | 'exclusive', waitMs = resticLockWaitMs): Promise<() => Promise<void>> {
  return holdSessionLock(db, repositoryLockSpace, repositoryKey(location), {
    waitMs,
    shared: mode === 'shared',
    busy: () => new TenantctlError('conflict', `the backup repository ${location.display} has been busy for ${Math.round(waitMs / 1000)} s (${mode === 'shared' ? 'a forget or prune' : 'a backup'} of another tenantctl process); try again`),
  });
}
