import { readdirSync } from 'node:fs';
import { systemClock, type Clock } from './clock.js';
import { done, notYet, retryUntilDeadline } from './retry.js';
import { processIdentity } from './process-identity.js';

/**
 * Does any process of group `pgid` still run? kill(-pgid, 0) signals nobody and fails with ESRCH
 * when the group is empty; while a member lives (even a zombie) the kernel does not give the
 * number to a new group, so a group seen here is still the one that was started. kill() also
 * counts zombies, which run nothing but wait for their parent to collect them (orphans wait for
 * PID 1, which in some containers does so late or never): those do not count here.
 */
export function groupHasMembers(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false; // ESRCH: none left
  }
  return anyRunningMember(pgid);
}

/** One pass over /proc (a few hundred small reads, only while a group is being stopped). */
function anyRunningMember(pgid: number): boolean {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return true; // no /proc to tell zombies apart: kill() said the group is there
  }
  return pids.some((pid) => processIdentity(Number(pid))?.pgid === pgid);
}

/** Sends `signal` to every process of group `pgid`; false when none was left to get it. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group has ended meanwhile
  }
}

export interface StopGroupOptions {
  /** How long the group gets to end after SIGTERM (compose cancels what it was doing) before SIGKILL. */
  graceMs: number;
  /** After SIGKILL, how long to wait for it to be gone (a process in uninterruptible I/O dies when that returns). */
  killWaitMs: number;
  /** What is being stopped, in words, for the retry loop's messages. */
  what: string;
  clock?: Clock;
}

/**
 * Stops a whole process group (a docker CLI and the compose plugin it runs): SIGTERM, up to
 * graceMs for it to end, then SIGKILL, then up to killWaitMs until none of it is left. Resolves
 * with whether it is gone. Never takes the command's abort signal: it is what runs after one.
 * The caller must know the group is its own (a child it started, or a recorded one whose leader
 * it found alive with the recorded start time).
 */
export async function stopProcessGroup(pgid: number, { graceMs, killWaitMs, what, clock = systemClock }: StopGroupOptions): Promise<boolean> {
  if (!signalGroup(pgid, 'SIGTERM')) return true;
  if (await groupEnds(pgid, graceMs, what, clock)) return true;
  if (!signalGroup(pgid, 'SIGKILL')) return true;
  return groupEnds(pgid, killWaitMs, what, clock);
}

/** Waits until no process of the group runs, at most `deadlineMs`; whether none does. */
export function groupEnds(pgid: number, deadlineMs: number, what: string, clock: Clock = systemClock): Promise<boolean> {
  return retryUntilDeadline(async () => (groupHasMembers(pgid) ? notYet(`process group ${pgid} still runs`) : done(true)), {
    what: `waiting for ${what} to end`,
    deadlineMs,
    clock,
    // Compose ends within a few hundred milliseconds of SIGTERM: look again soon.
    initialDelayMs: 20,
    maxDelayMs: 200,
    onDeadline: (why) => new Error(why),
  }).then(
    () => true,
    // Without a signal and with an attempt that cannot throw, only the deadline rejects: "not gone".
    () => false,
  );
}
