// Shared pieces of the operation-journal e2e files (kills-restore, kills-change): a tenant's data
// as a fingerprint (rows and Redis keys, counted and summed), what a finished or undone operation
// must not leave behind, and killing a paused run with SIGKILL or SIGINT.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { containerOf, dockerObjectsWithPrefix, type Harness } from './harness.js';
import type { PausedRun } from './pause.js';

export const projectOf = (h: Harness, id: string) => `${h.prefix}-${id}`;

export async function psqlIn(h: Harness, id: string, sql: string): Promise<string> {
  const db = await containerOf(projectOf(h, id), 'db');
  const r = await execa('docker', ['exec', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', 'tenant_owner', '-d', 'tenant', '-c', sql], { timeout: 120_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`psql on ${id} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * The Redis password to use: the tenant's secret file (what compose hands the redis container),
 * or, when that is missing or the server refuses it (a kill mid-rotation can leave them apart), the
 * sealed copy through `tenantctl secrets`. The file is read first because a CLI run per Redis call
 * cost a process start and an admin database round trip on every fingerprint.
 */
async function redisPasswords(h: Harness, id: string): Promise<Array<() => Promise<string>>> {
  const file = path.join(h.customersDir, id, 'secrets', 'REDIS_PASSWORD');
  const sealed = async () => {
    const secrets = await h.cli(['secrets', id, '--json']);
    if (secrets.exitCode !== 0) throw new Error(secrets.why);
    return secrets.json().secrets.REDIS_PASSWORD as string;
  };
  return existsSync(file) ? [async () => readFileSync(file, 'utf8').trim(), sealed] : [sealed];
}

export async function redisIn(h: Harness, id: string, args: string[]): Promise<string> {
  const c = await containerOf(projectOf(h, id), 'redis');
  let failure = '';
  for (const password of await redisPasswords(h, id)) {
    const r = await execa('docker', ['exec', '-e', 'REDISCLI_AUTH', c, 'redis-cli', '--no-auth-warning', ...args], {
      env: { REDISCLI_AUTH: await password() }, timeout: 60_000, reject: false,
    });
    // redis-cli exits 0 on a refused AUTH too, printing the error: a refusal is a try with the next password.
    if (r.exitCode === 0 && !/^(WRONGPASS|NOAUTH|AUTH failed)/m.test(r.stdout)) return r.stdout.trim();
    failure = r.exitCode !== 0 ? r.stderr : r.stdout;
  }
  throw new Error(`redis-cli on ${id} failed: ${failure}`);
}

/** The tenant's data as one comparable value: rows of `k` counted and summed, and the `mark:*` keys in Redis. */
export async function fingerprint(h: Harness, id: string): Promise<string> {
  const [rows, scan] = await Promise.all([
    psqlIn(h, id, 'SELECT count(*) || \' rows, sum \' || coalesce(sum(n), 0) FROM k'),
    redisIn(h, id, ['--scan', '--pattern', 'mark:*']),
  ]);
  const keys = scan.split('\n').filter(Boolean).sort();
  return `${rows}; redis ${keys.join(',') || '-'}`;
}

let marks = 0;
/** A change to both stores that a backup taken before it does not have: one row and one key. */
export async function writeMark(h: Harness, id: string): Promise<void> {
  marks += 1;
  const n = 10_000_000 + marks;
  await Promise.all([psqlIn(h, id, `INSERT INTO k VALUES (${n})`), redisIn(h, id, ['SET', `mark:${n}`, '1'])]);
}

/**
 * What no finished or undone operation leaves: no scratch or replaced database, no Redis files set
 * aside, no unfinished journal row, the stack whole (four containers running, one network, two
 * volumes), and `status` saying healthy (exit 0).
 */
export async function expectClean(h: Harness, id: string): Promise<void> {
  // Independent reads: asked at once, judged in order.
  const redisFiles = async () => {
    const redis = await containerOf(projectOf(h, id), 'redis');
    return (await execa('docker', ['exec', redis, 'ls', '-A', '/data'])).stdout.split('\n').filter(Boolean).sort();
  };
  const [scratch, files, running, objects, status] = await Promise.all([
    psqlIn(h, id, "SELECT string_agg(datname, ',') FROM pg_database WHERE datname ~ '^(restore|replaced|restored)_'"),
    redisFiles(),
    h.adminQuery("SELECT verb, step FROM admin_operations WHERE customer_id = $1 AND state = 'running'", [id]),
    dockerObjectsWithPrefix(projectOf(h, id)),
    h.cli(['status', id, '--json']),
  ]);
  expect(scratch).toBe('');
  expect(files.filter((f) => f.startsWith('.tenantctl'))).toEqual([]);
  expect(running).toEqual([]);
  expect({ containers: objects.containers.length, networks: objects.networks.length, volumes: objects.volumes.length }).toEqual({ containers: 4, networks: 1, volumes: 2 });
  expect(status.exitCode, status.why).toBe(0);
  expect(status.json().healthy).toBe(true);
}

/** kill -9 while it waits at its step; the pause file goes only afterwards (removing it means "go on"). */
export async function killHard(run: PausedRun): Promise<void> {
  run.child.kill('SIGKILL');
  expect((await run.child).signal).toBe('SIGKILL');
  run.resume();
}

/** Ctrl-C while it waits at its step: it undoes (or finishes) in-process and exits 130; its stderr and stdout. */
export async function interrupt(run: PausedRun): Promise<{ exitCode: number; stderr: string; stdout: string }> {
  run.child.kill('SIGINT');
  const result = await run.child;
  run.resume();
  return { exitCode: result.exitCode ?? -1, stderr: String(result.stderr), stdout: String(result.stdout) };
}
