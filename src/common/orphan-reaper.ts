import { childRecordsOf, removeChildRecord, type ChildRecord } from './child-records.js';
import { processIdentity } from './process-identity.js';
import { groupEnds, stopProcessGroup } from './process-group.js';
import type { Clock } from './clock.js';

export interface ReapOptions {
  /** How long an orphaned group gets to end by itself before SIGTERM (see reapOrphanedChildren). */
  endByItselfMs: number;
  /** Then how long it gets after SIGTERM before SIGKILL. */
  graceMs: number;
  /** After SIGKILL, how long until it must be gone. */
  killWaitMs: number;
  clock?: Clock;
}

export interface ReapResult {
  /** Children of a tenantctl that ended, found running, that ended by themselves while waited for. */
  ended: ChildRecord[];
  /** Children of a tenantctl that ended, found running and stopped with signals. */
  stopped: ChildRecord[];
  /** Children of a tenantctl that ended that would not stop, even with SIGKILL (records kept, to try again). */
  stillRunning: ChildRecord[];
}

/**
 * Deals with the children recorded under `key` whose tenantctl has ended (gone, or its pid now
 * another process's), so that nothing of them is still at work when the caller goes on; forgets
 * the records of children that have ended. Children of a tenantctl that still runs are left to it.
 *
 * A child is signalled only while its pid is still the recorded process (same start time, still
 * leading its group): a pid reused since is never signalled. A child found running is first given
 * `endByItselfMs` to end: one whose tenantctl died lost the reading end of its output, so it ends
 * at its next line of output, once what it asked for is done. Stopping it sooner would only stop
 * it from hearing the answer: a Docker engine carries out a create or start it has received even
 * when the client goes away, so that work would land afterwards, unseen, in the middle of the
 * caller's. Only a child that does not end by then gets SIGTERM, then SIGKILL.
 *
 * Costs one readdir when there is nothing to do.
 */
export async function reapOrphanedChildren(recordsDir: string, key: string, options: ReapOptions): Promise<ReapResult> {
  const result: ReapResult = { ended: [], stopped: [], stillRunning: [] };
  for (const { file, record } of childRecordsOf(recordsDir, key)) {
    if (!record) {
      removeChildRecord(file); // damaged or just removed: nothing in it can be trusted to signal
      continue;
    }
    const owner = processIdentity(record.owner.pid);
    if (owner?.startTime === record.owner.startTime) continue; // its tenantctl runs and stops it itself
    const child = processIdentity(record.pid);
    if (child?.startTime !== record.startTime || child.pgid !== record.pgid) {
      removeChildRecord(file, record); // it has ended; its pid may be someone else's now
      continue;
    }
    const what = `${record.argv.join(' ')} (pid ${record.pid})`;
    if (await groupEnds(record.pgid, options.endByItselfMs, what, options.clock)) {
      removeChildRecord(file, record);
      result.ended.push(record);
      continue;
    }
    // Some of the group still runs, so its number is still its own (the kernel gives a group's
    // number to no one while a member lives): signalling the group reaches only what it started.
    const gone = await stopProcessGroup(record.pgid, { graceMs: options.graceMs, killWaitMs: options.killWaitMs, what, clock: options.clock });
    if (gone) {
      removeChildRecord(file, record);
      result.stopped.push(record);
    } else {
      result.stillRunning.push(record);
    }
  }
  return result;
}
