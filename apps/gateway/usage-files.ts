// Usage as nginx records it: every request that passed the key check adds one JSON line
// ({"time","tenant","key","uri","status"}) to <usage dir>/usage.log, through a buffer nginx writes at least
// every second (src/frontdoor/render-api-keys.ts). Every second in which it has lines, the nginx
// container's rotator renames it to <epoch second>.log and has nginx reopen it
// (images/nginx/rotate-usage). The gateway counts from these files rather than from its own /auth
// answers, because nginx caches those answers and most requests never reach the gateway.
//
// A renamed file is read once its second is over and a grace period has passed (nginx's workers
// reopen within milliseconds of the rename); its counts go into admin_api_usage in one transaction
// and only then is the file deleted. Files survive a gateway restart and are counted when it is back.
// (A gateway killed between that commit and the delete counts those seconds again: the one window.)
import { chownSync, chmodSync, mkdirSync } from 'node:fs';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/** A file renamed in second S gets its last lines a little after S ends (nginx's workers reopen it on a signal). */
export const usageGraceMs = 1_000;
/** The file nginx writes; never read until renamed. */
export const usageLogName = 'usage.log';
/** usage.log with lines this much older than a rotation should have been: the rotator is not working. */
export const rotationOverdueMs = 10_000;
/** Files read per batch, so a backlog after an outage is written in bounded transactions. */
const maxFilesPerBatch = 300;

/** nginx's workers (www-data, uid 33 in Debian's images) write; the gateway (nobody, group nogroup) reads and deletes. Called as root, before dropping privileges. */
export function prepareUsageDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  chownSync(dir, 33, 65534);
  // setgid: files nginx creates belong to nogroup, the gateway's group.
  chmodSync(dir, 0o2770);
}

/** The endpoint usage is counted under: the path, with ids (numbers, UUIDs, long hex or tokens) as :id. */
export function endpointOf(uri: string): string {
  const path = uri.split('?')[0]!.split('#')[0]!;
  const parts = path.split('/').map((part) =>
    /^\d+$/.test(part) || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(part) || /^[0-9a-f]{16,}$/i.test(part) || part.length > 40 ? ':id' : part);
  return parts.slice(0, 8).join('/').slice(0, 200) || '/';
}

const hourStart = (ms: number) => new Date(Math.floor(ms / 3_600_000) * 3_600_000).toISOString();

/** One admin_api_usage row's worth of requests: all of them, and those answered 4xx and 5xx. */
export interface UsageRow { customerId: string; keyId: string; endpoint: string; periodStart: string; count: number; responses4xx: number; responses5xx: number }

/**
 * The class a line's status falls in: '4xx', '5xx', or undefined for the rest (2xx, 3xx, 1xx, and a
 * line of an older tenantctl, which wrote no status: a request of no class, counted as before).
 */
export function statusClass(status: unknown): '4xx' | '5xx' | undefined {
  const code = typeof status === 'string' ? status : typeof status === 'number' ? String(status) : '';
  return code.length === 3 && code[0] === '4' ? '4xx' : code.length === 3 && code[0] === '5' ? '5xx' : undefined;
}

/** Renamed files (<second>.log, or <second>-<n>.log) whose second is over (plus the grace period), oldest first. */
export function readyFiles(names: readonly string[], nowMs: number): string[] {
  return names
    .map((name) => ({ name, second: /^(\d+)(?:-\d+)?\.log$/.exec(name)?.[1] }))
    .filter((f): f is { name: string; second: string } => f.second !== undefined && (Number(f.second) + 1) * 1000 + usageGraceMs <= nowMs)
    .sort((a, b) => Number(a.second) - Number(b.second))
    .map((f) => f.name);
}

/** The hour a line counts in: its own time, or (a line written by an older tenantctl, which had none) its file's second. */
function linePeriod(time: unknown, fileSecond: number): string | undefined {
  if (time === undefined) return hourStart(fileSecond * 1000);
  const ms = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  return Number.isNaN(ms) ? undefined : hourStart(ms);
}

/** Adds one file's lines to `rows` (keyed by customer, key, endpoint, hour); returns the lines it could not read. */
export function countLines(text: string, fileSecond: number, rows: Map<string, UsageRow>): number {
  // Identical lines (same second, tenant, key and URI) are parsed once.
  const lines = new Map<string, number>();
  for (const line of text.split('\n')) if (line !== '') lines.set(line, (lines.get(line) ?? 0) + 1);
  let unreadable = 0;
  for (const [line, n] of lines) {
    let entry: { time?: unknown; tenant?: unknown; key?: unknown; uri?: unknown; status?: unknown };
    try {
      entry = JSON.parse(line);
    } catch {
      unreadable += n;
      continue;
    }
    const periodStart = linePeriod(entry.time, fileSecond);
    if (typeof entry.tenant !== 'string' || typeof entry.key !== 'string' || typeof entry.uri !== 'string' || !entry.tenant || !entry.key || !periodStart) {
      unreadable += n;
      continue;
    }
    const endpoint = endpointOf(entry.uri);
    const id = `${entry.tenant}\0${entry.key}\0${endpoint}\0${periodStart}`;
    // The class is a count of the row, not part of its key: one row per endpoint and hour, as before.
    const row = rows.get(id) ?? { customerId: entry.tenant, keyId: entry.key, endpoint, periodStart, count: 0, responses4xx: 0, responses5xx: 0 };
    rows.set(id, row);
    row.count += n;
    const kind = statusClass(entry.status);
    if (kind === '4xx') row.responses4xx += n;
    else if (kind === '5xx') row.responses5xx += n;
  }
  return unreadable;
}

export interface UsageBatch { files: string[]; rows: UsageRow[]; unreadable: number }

/** The second a renamed file's name gives (<second>.log or <second>-<n>.log). */
const fileSecond = (name: string) => Number(/^(\d+)/.exec(name)![1]);

/** The ready files (at most maxFilesPerBatch) and their counts. */
export async function readUsageBatch(dir: string, nowMs: number): Promise<UsageBatch> {
  const files: string[] = [];
  for (const name of readyFiles(await readdir(dir), nowMs)) {
    if (files.length >= maxFilesPerBatch) break;
    // Written to within the grace period: nginx has not let go of it yet (the rotator is still
    // confirming the reopen, or giving the name back): next time.
    const info = await stat(path.join(dir, name)).catch(() => undefined);
    if (info && info.mtimeMs <= nowMs - usageGraceMs) files.push(name);
  }
  const rows = new Map<string, UsageRow>();
  let unreadable = 0;
  for (const name of files) {
    unreadable += countLines(await readFile(path.join(dir, name), 'utf8'), fileSecond(name), rows);
  }
  return { files, rows: [...rows.values()], unreadable };
}

/** After the batch's counts are committed. */
export async function removeUsageFiles(dir: string, files: readonly string[]): Promise<void> {
  for (const name of files) await unlink(path.join(dir, name)).catch((error: NodeJS.ErrnoException) => { if (error.code !== 'ENOENT') throw error; });
}

/**
 * Watches usage.log for a rotator that stopped: the same file (inode) holding lines over
 * rotationOverdueMs means nothing renames it, and its requests are not being counted. check()
 * answers how long that has been, once per stall.
 */
export function rotationWatch(dir: string) {
  let seen: { ino: number; since: number; reported: boolean } | undefined;
  return async function check(nowMs: number): Promise<number | undefined> {
    const info = await stat(path.join(dir, usageLogName)).catch(() => undefined);
    if (!info || info.size === 0) {
      seen = undefined;
      return undefined;
    }
    if (!seen || seen.ino !== info.ino) seen = { ino: info.ino, since: nowMs, reported: false };
    if (seen.reported || nowMs - seen.since <= rotationOverdueMs) return undefined;
    seen.reported = true;
    return nowMs - seen.since;
  };
}
