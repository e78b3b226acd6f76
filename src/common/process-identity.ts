import { readFileSync } from 'node:fs';

/**
 * One process as the kernel knows it (/proc/<pid>/stat). A pid alone can name a different process
 * later (pids are reused); the pid with its start time names one process for as long as the
 * machine runs, so nothing is ever signalled on the strength of a pid alone.
 */
export interface ProcessIdentity {
  pid: number;
  /** Its process group (field 5). */
  pgid: number;
  /** When it started, in clock ticks after boot (field 22), kept as text: it is only compared. */
  startTime: string;
}

/**
 * The fields of /proc/<pid>/stat that matter here, or undefined when the text is not one. Field 2,
 * the command name, is in parentheses and may hold spaces and parentheses itself, so the fields are
 * counted from after its last ')'.
 */
export function parseProcStat(pid: number, text: string): (ProcessIdentity & { state: string }) | undefined {
  const nameEnd = text.lastIndexOf(')');
  if (nameEnd < 0) return undefined;
  // fields[0] is field 3 (the state), so field n is fields[n - 3].
  const fields = text.slice(nameEnd + 1).trim().split(/\s+/);
  const state = fields[0];
  const pgid = Number(fields[2]);
  const startTime = fields[19];
  if (!state || !Number.isInteger(pgid) || !startTime || !/^\d+$/.test(startTime)) return undefined;
  return { pid, pgid, startTime, state };
}

/**
 * The process `pid` is now, or undefined if there is none, or only its exit status is left (a
 * zombie: it runs nothing and cannot be stopped). Synchronous: it is read right after a spawn,
 * before anything else can run, and costs one small read.
 */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // no such process (ENOENT, ESRCH while it exits)
  }
  const parsed = parseProcStat(pid, text);
  if (!parsed || parsed.state === 'Z' || parsed.state === 'X') return undefined;
  return { pid: parsed.pid, pgid: parsed.pgid, startTime: parsed.startTime };
}

/** Is `pid` still the process that started at `startTime` (not gone, not a reused pid)? */
export function isSameProcess(pid: number, startTime: string): boolean {
  return processIdentity(pid)?.startTime === startTime;
}

let own: ProcessIdentity | undefined;

/** This tenantctl process: the owner written into the records of the children it starts. */
export function ownIdentity(): ProcessIdentity {
  own ??= processIdentity(process.pid) ?? { pid: process.pid, pgid: 0, startTime: '0' };
  return own;
}

/**
 * Whether some process has `pid` now (signal 0 sends nothing): EPERM is one of another user's. A pid
 * alone may be a reused one: for leftovers named by a pid (a lock file, a relay's directory, a
 * password file), where taking a live one for dead would be the harm, not the other way round.
 */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
