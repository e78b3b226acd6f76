import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ProcessIdentity } from './process-identity.js';

// Records of the children a tenantctl runs in their own process groups (exec.ts, ownGroup), one
// small file each while the child runs: `<stateDir>/children/<key>.<pid>.json`. If tenantctl is
// killed (kill -9, a crash) its children go on without it; the record lets a later tenantctl find
// them, and wait for them or stop them, before it touches what they were changing (orphan-reaper.ts).

/** Where a state dir keeps the records. */
export const childRecordsDir = (stateDir: string) => path.join(stateDir, 'children');

export interface ChildRecord {
  /** What the child works on (a compose project): records are looked up by it. */
  key: string;
  /** The child (its group's leader) and when it started: a reused pid has another start time. */
  pid: number;
  pgid: number;
  startTime: string;
  /** The tenantctl that started it: while that one lives, the child is its business. */
  owner: { pid: number; startTime: string };
  /** The first words of its command line (`docker compose -p`), for messages and for whoever reads the directory. */
  argv: string[];
  /** When it was started (ISO), for whoever reads the directory. */
  startedAt: string;
  /** The file its stderr goes to (child-output.ts), removed with the record once it has ended. */
  output?: string;
}

/** Keys become file names, and `<key>.` must not be the start of another key's names: no dots or slashes. */
const keyPattern = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

function assertKey(key: string): void {
  if (!keyPattern.test(key)) throw new Error(`child record key ${JSON.stringify(key)}: expected letters, digits, _ and -`);
}

/** Made before a child starts, so a directory that cannot be made stops the call before anything runs. */
export function ensureChildRecordsDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Records a running child; returns the record's file. Written whole under a dot-name and renamed,
 * so a reader never sees half a record. Synchronous: it runs right after the spawn, leaving no turn
 * of the event loop in which the child runs unrecorded.
 */
export function writeChildRecord(dir: string, child: ProcessIdentity, { key, argv, owner, output }: { key: string; argv: readonly string[]; owner: ProcessIdentity; output?: string }): string {
  assertKey(key);
  const record: ChildRecord = {
    key,
    pid: child.pid,
    pgid: child.pgid,
    startTime: child.startTime,
    owner: { pid: owner.pid, startTime: owner.startTime },
    argv: argv.slice(0, 3),
    startedAt: new Date().toISOString(),
    ...(output === undefined ? {} : { output }),
  };
  const file = path.join(dir, `${key}.${child.pid}.json`);
  const partial = path.join(dir, `.${key}.${child.pid}.json.partial`);
  writeFileSync(partial, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(partial, file);
  return file;
}

/** Forgets a record, and the output file of the child it names (its own tenantctl removes that itself). */
export function removeChildRecord(file: string, record?: ChildRecord): void {
  if (record?.output && path.dirname(record.output) === path.dirname(file)) rmSync(record.output, { force: true });
  rmSync(file, { force: true });
}

/**
 * The records of `key` in `dir` (none when the directory does not exist): one readdir, and a read
 * only of that key's files. `record` is undefined for a file that does not hold one (damaged).
 */
export function childRecordsOf(dir: string, key: string): { file: string; record?: ChildRecord }[] {
  assertKey(key);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const ours = new RegExp(`^${key}\\.(\\d+)\\.json$`);
  return names.filter((name) => ours.test(name)).map((name) => {
    const file = path.join(dir, name);
    return { file, record: readRecord(file, key) };
  });
}

function readRecord(file: string, key: string): ChildRecord | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<ChildRecord>;
    const valid = value.key === key && Number.isInteger(value.pid) && Number.isInteger(value.pgid) && typeof value.startTime === 'string'
      && Number.isInteger(value.owner?.pid) && typeof value.owner?.startTime === 'string' && Array.isArray(value.argv);
    return valid ? (value as ChildRecord) : undefined;
  } catch {
    return undefined; // gone meanwhile (its child ended) or not JSON: either way nothing to act on
  }
}
