import { open, readFile, rm } from 'node:fs/promises';
import { TenantctlError, messageOf } from './errors.js';
import { systemClock, type Clock } from './clock.js';
import { done, notYet, retryUntilDeadline } from './retry.js';
import { failureMeans } from './ignore-failure.js';
import { pidExists } from './process-identity.js';

/**
 * Runs `work` while holding an exclusive lock file (created with O_EXCL, holding our pid), for
 * what several tenantctl processes on one machine must not do at once (starting the local admin
 * database: compose v2 run twice at once creates its network twice). A lock left by a process that
 * no longer exists is taken over.
 */
export async function withLockFile<T>(
  file: string,
  work: () => Promise<T>,
  { deadlineMs, clock = systemClock, signal, what }: { deadlineMs: number; clock?: Clock; signal?: AbortSignal; what: string },
): Promise<T> {
  await retryUntilDeadline(async () => {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return done(undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new TenantctlError('usage', `cannot create ${file}: ${messageOf(error)}`, { cause: error });
      const holder = Number((await readFile(file, 'utf8').catch(failureMeans('', 'a lock file gone or not yet written names no holder: asked again'))).trim());
      if (holder > 0 && !pidExists(holder)) await rm(file, { force: true }); // its holder died: take it over
      return notYet(holder > 0 ? `process ${holder} holds ${file}` : `${file} is being written`);
    }
  }, { what, deadlineMs, clock, signal, initialDelayMs: 100, onDeadline: (why) => new TenantctlError('conflict', `${what}: ${why}`) });
  try {
    return await work();
  } finally {
    await rm(file, { force: true });
  }
}
