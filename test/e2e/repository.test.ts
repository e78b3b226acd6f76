// Backups into a restic repository on a separate test host over sftp (a container of Debian's
// openssh-server, reached at its container address with a key this test makes): the repository
// created with a password from a 0600 file; a tenant with known rows backed up into it, its rows
// changed, restored in place from it (restic dump into pg_restore), identical; the repository read back with
// restic itself (snapshots, dump piped into pg_restore --list) as a plain restic repository; a
// wrong password is one line and exit 2; kills (-9 and SIGINT) at each pause point of a repository
// backup are settled by the next backup (the killed backup is failed, its snapshots forgotten);
// retention by --keep-daily. One admin database and one tenant. (restore --as reads the repository
// the same way, through the same reader: src/backups/source.ts; left out here for the time budget.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { containerOf, createHarness, type Harness } from './harness.js';
import { startSftpRepository, type SftpRepository } from './sftp-repository.js';
import { startPausedAt } from './pause.js';

let h: Harness;
let repo: SftpRepository;
let sftp = '';
const id = 'rp1';
const password = createHash('sha256').update(`repository test ${Date.now()} ${Math.random()}`).digest('base64url');

const project = (tenant: string) => `${h.prefix}-${tenant}`;

async function psql(tenant: string, sql: string): Promise<string> {
  const db = await containerOf(project(tenant), 'db');
  const r = await execa('docker', ['exec', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', 'tenant_owner', '-d', 'tenant', '-c', sql], { timeout: 120_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`psql on ${tenant} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Counts and a digest of the rows the test owns. */
async function rows(tenant: string): Promise<string> {
  return psql(tenant, "SELECT count(*) || ' ' || sum(id) || ' ' || md5(string_agg(id || ':' || body, ',' ORDER BY id)) FROM public.notes");
}

beforeAll(async () => {
  h = await createHarness('repository', {
    TENANTCTL_SUBNET_POOL: `10.${150 + Math.floor(Math.random() * 40)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4850-4899', TENANTCTL_DB_PORTS: '5850-5899', TENANTCTL_REDIS_PORTS: '6850-6899',
  });
  // The separate test host (test/e2e/sftp-repository.ts); the harness's environment now points at it.
  repo = await startSftpRepository(h, password);
  sftp = repo.url;
}, 600_000);

/** restic itself, as an operator would run it: the repository's URL, the password file, the test's ssh key. */
const resticRun = (args: string[], input?: { stdout?: 'buffer' }) => repo.restic(args, input);
const snapshots = async (tag: string) => JSON.parse(String((await resticRun(['snapshots', '--json', '--tag', tag])).stdout)) as any[];

afterAll(async () => {
  // The sftp host is no compose project: removed by its test label (the harness removes compose projects by prefix).
  if (h) await repo?.remove();
  await h?.cleanup();
});

let backupId = '';
let original = '';

describe('backups into a restic repository over sftp', () => {
  it('creates the repository with a password from a 0600 file, sealed in the admin database', async () => {
    const loose = path.join(h.dir, 'loose.pass');
    writeFileSync(loose, 'x\n', { mode: 0o644 });
    chmodSync(loose, 0o644);
    const refused = await h.cli(['repository', 'init', '--password-file', loose, '--json']);
    expect(refused.exitCode, refused.why).toBe(2);
    expect(refused.json().error.message).toMatch(/may be read by others \(mode 644\)/);

    const r = await h.cli(['repository', 'init', '--password-file', repo.passwordFile, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ outcome: 'created', repository: sftp });
    const again = await h.cli(['repository', 'init', '--json']);
    expect(again.exitCode, again.why).toBe(0);
    expect(again.json().outcome).toBe('unchanged');
    // Sealed, not stored as it is.
    const settings = await h.adminQuery("SELECT value FROM admin_settings WHERE key LIKE 'backup_repository_password:%'");
    expect(settings).toHaveLength(1);
    expect(settings[0].value).not.toContain(password);
    // A plain restic repository: restic opens it with the password alone.
    expect(await snapshots('tenantctl')).toEqual([]);
  }, 120_000);

  it('backs a tenant up into the repository: streamed, read back, recorded with its snapshots', async () => {
    const p = await h.cli(['provision', id, '--name', 'Repo Co', '--plan', 'starter', '--json']);
    expect(p.exitCode, p.why).toBe(0);
    await psql(id, `CREATE TABLE public.notes (id int PRIMARY KEY, body text NOT NULL);
      INSERT INTO public.notes SELECT g, repeat(md5(g::text), 1 + g % 7) FROM generate_series(1, 3000) g;`);
    original = await rows(id);
    expect(original).toMatch(/^3000 4501500 /);

    const r = await h.cli(['backup', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    const made = r.json();
    backupId = made.id;
    expect(made.repository).toBe(sftp);
    expect(Object.keys(made.snapshots).sort()).toEqual(['db.dump', 'manifest.json', 'redis.rdb', 'tenant.json']);
    // Nothing on local disk: the folder store is untouched.
    const backupsDir = path.join(h.dir, 'state', 'backups');
    expect(existsSync(backupsDir) ? readdirSync(backupsDir) : []).toEqual([]);
    const [row] = await h.adminQuery('SELECT state, repository, repository_display, snapshots, directory FROM admin_backups WHERE id = $1', [backupId]);
    expect(row).toMatchObject({ state: 'succeeded', repository_display: sftp, directory: `repository:${backupId}` });
    expect(row.snapshots).toEqual(made.snapshots);

    // Read back with restic itself: its snapshots by tag, and the dump piped into pg_restore --list.
    const mine = await snapshots(`backup=${backupId}`);
    expect(mine.map((s) => s.paths[0]).sort()).toEqual([`/tenantctl/${id}/db.dump`, `/tenantctl/${id}/manifest.json`, `/tenantctl/${id}/redis.rdb`, `/tenantctl/${id}/tenant.json`]);
    expect(new Set(mine.map((s) => s.hostname)).size).toBe(1);
    const dump = (await resticRun(['dump', made.snapshots['db.dump'], `/tenantctl/${id}/db.dump`], { stdout: 'buffer' })).stdout as unknown as Uint8Array;
    expect(createHash('sha256').update(dump).digest('hex')).toBe(made.files['db.dump'].sha256);
    const db = await containerOf(project(id), 'db');
    const list = await execa('docker', ['exec', '-i', db, 'pg_restore', '--list'], { input: Buffer.from(dump), reject: false });
    expect(list.exitCode, String(list.stderr)).toBe(0);
    expect(list.stdout).toMatch(/TABLE DATA public notes/);
    const manifest = JSON.parse(String((await resticRun(['dump', made.snapshots['manifest.json'], `/tenantctl/${id}/manifest.json`])).stdout));
    expect(manifest).toMatchObject({ id: backupId, tenant: id });

    const status = await h.cli(['repository', 'status', '--json']);
    expect(status.exitCode, status.why).toBe(0);
    expect(status.json()).toMatchObject({ repository: sftp, snapshots: 4, tenantSnapshots: 4, tenants: 1 });
    expect(status.json().storedBytes).toBeGreaterThan(10_000);
    const check = await h.cli(['repository', 'check', '--json']);
    expect(check.exitCode, check.why).toBe(0);
  }, 240_000);

  it('restores from the repository in place (restic dump into pg_restore): rows identical', async () => {
    await psql(id, 'DELETE FROM public.notes WHERE id % 3 = 0; UPDATE public.notes SET body = \'changed\' WHERE id < 50');
    expect(await rows(id)).not.toBe(original);
    const r = await h.cli(['restore', id, '--from', backupId, '--yes', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ outcome: 'restored', mode: 'in-place' });
    expect(await rows(id)).toBe(original);
  }, 240_000);

  it('a wrong password is one line and exit 2; a password file others may read is refused', async () => {
    const wrong = path.join(h.dir, 'wrong.pass');
    writeFileSync(wrong, 'not the password\n', { mode: 0o600 });
    const r = await h.cli(['repository', 'status', '--json'], { env: { TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE: wrong } });
    expect(r.exitCode, r.why).toBe(2);
    expect(r.json().error.message).toMatch(/wrong password or no key found/);
    expect(r.json().error.message).not.toContain('\n');
    const rowsBefore = await h.adminQuery("SELECT id, state FROM admin_backups WHERE customer_id = $1 ORDER BY id", [id]);
    const b = await h.cli(['backup', id], { env: { TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE: wrong } });
    expect(b.exitCode, b.why).toBe(2);
    expect(b.stderr.trim().split('\n').filter((l) => l.startsWith('tenantctl:'))).toHaveLength(1);
    // The wrong password is found by the stale-lock check before anything is recorded: no backup row
    // (not even a failed one), and nothing of it in the repository.
    expect(await h.adminQuery("SELECT id, state FROM admin_backups WHERE customer_id = $1 ORDER BY id", [id])).toEqual(rowsBefore);
    chmodSync(wrong, 0o640);
    const loose = await h.cli(['repository', 'status', '--json'], { env: { TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE: wrong } });
    expect(loose.exitCode, loose.why).toBe(2);
    expect(loose.json().error.message).toMatch(/may be read by others/);
  }, 120_000);

  it('kills (-9 and SIGINT) at each pause point of a repository backup are settled by the next backup (never recorded, snapshots forgotten); retention by --keep-daily', async () => {
    const cases: Array<[string, NodeJS.Signals]> = [['backup:piece-saved', 'SIGKILL'], ['backup:written', 'SIGINT'], ['backup:piece-saved', 'SIGINT'], ['backup:written', 'SIGKILL']];
    const killed: string[] = [];
    for (const [step, signal] of cases) {
      const run = await startPausedAt(h, ['backup', id, '--json'], step);
      const [running] = await h.adminQuery("SELECT id, snapshots FROM admin_backups WHERE customer_id = $1 AND state = 'running'", [id]);
      expect(Object.keys(running.snapshots).length, `${step}: a snapshot is written before the pause`).toBeGreaterThan(0);
      expect((await snapshots(`backup=${running.id}`)).length).toBeGreaterThan(0);
      run.child.kill(signal);
      const ended = await run.child;
      if (signal === 'SIGINT') {
        expect(ended.exitCode, String(ended.stderr)).toBe(130);
        // Ctrl-C settles it itself: failed, its snapshots forgotten.
        expect(await snapshots(`backup=${running.id}`)).toEqual([]);
      }
      killed.push(running.id);
    }
    // The Ctrl-C'd runs forgot their own snapshots (forgetUnrecorded): a prune is owed for their data
    // from then on, not only once a retention run forgets something.
    const prunes = async () => h.adminQuery('SELECT owed_since, pruned_at FROM admin_repository_prunes');
    expect((await prunes()).map((p) => p.owed_since === null)).toEqual([false]);
    // The next backup settles what the last kill left and is itself a backup; with --keep-daily 1 it
    // also applies retention: the older backup of the day is forgotten whole, and pruned.
    const next = await h.cli(['backup', id, '--keep-daily', '1', '--json']);
    expect(next.exitCode, next.why).toBe(0);
    const made = next.json();
    const states = await h.adminQuery('SELECT id, state FROM admin_backups WHERE id = ANY($1)', [killed]);
    expect(states.map((s) => s.state)).toEqual(killed.map(() => 'failed'));
    for (const backup of killed) expect(await snapshots(`backup=${backup}`)).toEqual([]);
    expect(made.pruned).toEqual([backupId]);
    const listed = await h.cli(['backups', id, '--json']);
    expect(listed.json().backups.filter((b: any) => b.state === 'succeeded').map((b: any) => b.id)).toEqual([made.id]);
    // Every snapshot of the tenant in the repository belongs to the one backup on record.
    const left = await snapshots(`tenant=${id}`);
    expect(new Set(left.map((s) => s.tags.find((t: string) => t.startsWith('backup='))))).toEqual(new Set([`backup=${made.id}`]));
    expect(left).toHaveLength(4);
    const [pruned] = await h.adminQuery('SELECT state FROM admin_backups WHERE id = $1', [backupId]);
    expect(pruned.state).toBe('pruned');
    // restic prune ran once (none had run on this repository) and is recorded; the next retention
    // within backups.pruneIntervalMinutes (1440 by default) forgets but defers the prune, said.
    const [first] = await prunes();
    expect(first.pruned_at).not.toBeNull();
    expect(first.owed_since).toBeNull();
    const again = await h.cli(['backup', id, '--keep-daily', '1', '--json']);
    expect(again.exitCode, again.why).toBe(0);
    expect(again.json().pruned).toEqual([made.id]);
    expect(again.stderr).toMatch(/restic prune deferred: the last ran at .* the next is due at/);
    const [second] = await prunes();
    expect(second.pruned_at).toEqual(first.pruned_at);
    expect(second.owed_since).not.toBeNull();
    const status = await h.cli(['repository', 'status', '--json']);
    expect(status.exitCode, status.why).toBe(0);
    expect(status.json().prune).toMatchObject({ prunedAt: first.pruned_at.toISOString(), owedSince: second.owed_since.toISOString(), intervalMinutes: 1440 });
    expect(Date.parse(status.json().prune.nextDueAt) - first.pruned_at.getTime()).toBe(1440 * 60_000);
    const usage = await h.cli(['backup', id, '--keep-daily', 'x']);
    expect(usage.exitCode).toBe(2);
  }, 300_000);
});

// Physical backups (backup --physical) of a template whose only state is PostgreSQL (crm's, its Redis
// declared no state: an operator's template; crm itself, PostgreSQL and Redis, is physical-crm.test.ts's):
// a tenant of it gets its data directory's files backed up by restic in a helper container between
// pg_backup_start and pg_backup_stop, with the backup_label and WAL as a tar, into the same
// repository; a second one of the unchanged tenant skips most files unread and adds little; kills
// in backup mode and after both snapshots are settled like any backup's, and PostgreSQL ends the
// killed sessions' backups and slots; without the helper image it takes the old pg_basebackup tar
// (with a warning); its APP_DB_PASSWORD rotated, then restore --from the file-level backup in place
// killed once proven and finished by the next command, rows identical (and today's password works:
// readiness proved it); the tar backup restored as well, rows identical.
describe('physical backups into the repository', () => {
  const rawSize = async () => Number(JSON.parse(String((await resticRun(['stats', '--json', '--mode', 'raw-data'])).stdout)).total_size);
  const pid = 'rp2';
  let physical = '';
  let tarBackup = '';
  let dataBytes = 0;
  let originalPg = '';
  const psqlAs = async (tenant: string, sql: string) => {
    const db = await containerOf(project(tenant), 'db');
    return (await execa('docker', ['exec', db, 'psql', '-X', '-A', '-t', '-h', '/run/postgresql', '-U', 'postgres', '-d', 'postgres', '-c', sql], { timeout: 60_000 })).stdout.trim();
  };

  it('provisions a tenant whose state is PostgreSQL alone', async () => {
    // crm with its Redis declared no state, in this file's port ranges: an operator's template.
    const templates = path.join(h.dir, 'templates');
    mkdirSync(path.join(templates, 'pgonly'), { recursive: true });
    const crm = readFileSync(path.join(import.meta.dirname, '..', '..', 'templates', 'crm', 'docker-compose.tenant.yml'), 'utf8');
    const pgonly = crm.replace(/^    redis: \{ redis: \{ service: redis, passwordSecret: REDIS_PASSWORD, dir: \/data \} \}\n/m, '')
      .replace('REDIS_PASSWORD: { length: 32, alphabet: alphanumeric, applies: { redisPassword: { service: redis } } }', 'REDIS_PASSWORD: { length: 32, alphabet: alphanumeric }')
      .replace('range: { from: 3001, to: 3999 }', 'range: { from: 4880, to: 4899 }')
      .replace('range: { from: 5434, to: 5999 }', 'range: { from: 5880, to: 5899 }')
      .replace('range: { from: 6380, to: 6999 }', 'range: { from: 6880, to: 6899 }');
    expect(pgonly).not.toMatch(/dir: \/data|redisPassword/);
    cpSync(path.join(import.meta.dirname, '..', '..', 'templates', 'crm'), path.join(templates, 'pgonly'), { recursive: true });
    writeFileSync(path.join(templates, 'pgonly', 'docker-compose.tenant.yml'), pgonly);
    h.env.TENANTCTL_TEMPLATES_DIR = templates;
    const p = await h.cli(['provision', pid, '--name', 'Physical Co', '--plan', 'starter', '--template', 'pgonly', '--json']);
    expect(p.exitCode, p.why).toBe(0);
    await psql(pid, `CREATE TABLE public.notes (id int PRIMARY KEY, body text NOT NULL);
      INSERT INTO public.notes SELECT g, repeat(md5(g::text), 1 + g % 7) FROM generate_series(1, 3000) g;`);
    originalPg = await rows(pid);
    expect(originalPg).toMatch(/^3000 4501500 /);
  }, 240_000);

  it('backs the cluster up file by file; kills at its pause points are settled; a second one skips the unchanged files and adds little', async () => {
    const before = await rawSize();
    const r = await h.cli(['backup', pid, '--physical', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    const made = r.json();
    expect(made.method).toBe('physical');
    expect(made.warnings).toBeUndefined();
    expect(Object.keys(made.snapshots).sort()).toEqual(['db.pgdata', 'db.pgwal.tar', 'manifest.json', 'tenant.json']);
    dataBytes = made.files['db.pgdata'].bytes;
    expect(made.physical.files).toBeGreaterThan(100);
    const first = await rawSize();
    // The repository held the logical dumps of the same rows: the cluster's files are new data.
    expect(first).toBeGreaterThan(before);
    // Read back with restic itself: the data folder at its stable path, the label and WAL tar hashed as recorded.
    const listed = String((await resticRun(['ls', made.snapshots['db.pgdata']])).stdout).split('\n');
    expect(listed).toEqual(expect.arrayContaining([`/tenantctl/${pid}/db.pgdata/PG_VERSION`, `/tenantctl/${pid}/db.pgdata/global/pg_control`, `/tenantctl/${pid}/db.pgdata/pg_wal`]));
    expect(listed.filter((f) => f.startsWith(`/tenantctl/${pid}/db.pgdata/pg_wal/`) || f.endsWith('/postmaster.pid'))).toEqual([]);
    const tar = (await resticRun(['dump', made.snapshots['db.pgwal.tar'], `/tenantctl/${pid}/db.pgwal.tar`], { stdout: 'buffer' })).stdout as unknown as Uint8Array;
    expect(createHash('sha256').update(tar).digest('hex')).toBe(made.files['db.pgwal.tar'].sha256);
    const inTar = (await execa('tar', ['-tf', '-'], { input: Buffer.from(tar) })).stdout.split('\n').map((f) => f.replace(/^\.\//, ''));
    expect(inTar).toContain('backup_label');
    expect(inTar.filter((f) => /^pg_wal\/[0-9A-F]{24}$/.test(f))).toHaveLength(made.physical.walSegments);
    const [row] = await h.adminQuery('SELECT state, manifest FROM admin_backups WHERE id = $1', [made.id]);
    expect(row.state).toBe('succeeded');
    expect(row.manifest.pieces.db).toMatchObject({ method: 'physical', file: 'db.pgdata', layout: 'files', wal: 'db.pgwal.tar' });
    expect(row.manifest.pieces.db.major).toBeGreaterThanOrEqual(14);

    // Killed in backup mode (the data files saved, pg_backup_stop not yet run) and once both snapshots are written.
    const killed: string[] = [];
    const kills = [['backup:physical-files', 'SIGKILL', ['db.pgdata']], ['backup:physical-files', 'SIGINT', ['db.pgdata']], ['backup:physical-saved', 'SIGKILL', ['db.pgdata', 'db.pgwal.tar']], ['backup:physical-saved', 'SIGINT', ['db.pgdata', 'db.pgwal.tar']]] as const;
    for (const [point, signal, saved] of kills) {
      const run = await startPausedAt(h, ['backup', pid, '--physical', '--json'], point);
      const [running] = await h.adminQuery("SELECT id, snapshots FROM admin_backups WHERE customer_id = $1 AND state = 'running'", [pid]);
      expect(Object.keys(running.snapshots).sort()).toEqual([...saved]);
      // In backup mode, its WAL held by the session's temporary slot.
      expect(await psqlAs(pid, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'tenantctl_backup_%' AND temporary")).toBe('1');
      run.child.kill(signal);
      const ended = await run.child;
      if (signal === 'SIGINT') expect(ended.exitCode, String(ended.stderr)).toBe(130);
      killed.push(running.id);
    }
    // The Ctrl-C'd runs forgot their own snapshots (forgetUnrecorded): a prune is owed for their data
    // from then on, not only once a retention run forgets something.
    const prunes = async () => h.adminQuery('SELECT owed_since, pruned_at FROM admin_repository_prunes');
    expect((await prunes()).map((p) => p.owed_since === null)).toEqual([false]);
    // The killed sessions ended: PostgreSQL aborted their backups and dropped their slots itself.
    await expect.poll(() => psqlAs(pid, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'tenantctl_backup_%'"), { timeout: 30_000 }).toBe('0');
    // Rows written between the two backups (restic must read the changed files), and more while the
    // second one is in backup mode (its files already saved: only the WAL tar carries them, replayed at restore).
    await psql(pid, "INSERT INTO public.notes SELECT g, repeat(md5(g::text), 3) FROM generate_series(3001, 3400) g; UPDATE public.notes SET body = 'between' WHERE id BETWEEN 100 AND 160");
    const beforeSecond = await rawSize();
    const during = await startPausedAt(h, ['backup', pid, '--physical', '--json'], 'backup:physical-files');
    await psql(pid, "INSERT INTO public.notes SELECT g, 'during' FROM generate_series(3401, 3450) g; DELETE FROM public.notes WHERE id BETWEEN 200 AND 209");
    // Over 16 MB of WAL in backup mode (more than crm's /tmp tmpfs holds: the WAL tar is read in place, never copied there).
    await psql(pid, 'CREATE TABLE public.churn AS SELECT repeat(md5(g::text), 20) AS body FROM generate_series(1, 40000) g; DROP TABLE public.churn');
    originalPg = await rows(pid);
    expect(originalPg).toMatch(/^3440 /);
    during.resume();
    const ended = await during.child;
    expect(ended.exitCode, String(ended.stderr)).toBe(0);
    const again = { json: () => JSON.parse(String(ended.stdout)) };
    physical = again.json().id;
    const states = await h.adminQuery('SELECT id, state FROM admin_backups WHERE id = ANY($1)', [killed]);
    expect(states.map((s) => s.state)).toEqual(killed.map(() => 'failed'));
    // Only the killed backups' snapshots were forgotten; the first physical backup's are all there.
    for (const backup of killed) expect(await snapshots(`backup=${backup}`)).toEqual([]);
    expect(await snapshots(`backup=${made.id}`)).toHaveLength(4);
    // The unchanged cluster: most files skipped unread (same size, mtime, ctime, inode as the parent), little added.
    const second = again.json().physical;
    expect(second.walSegments).toBeGreaterThan(1);
    expect(second.unmodified).toBeGreaterThan(second.files / 2);
    expect(second.addedBytes).toBeLessThan(dataBytes / 4);
    expect((await rawSize()) - beforeSecond).toBeLessThan(dataBytes / 4);
    expect(again.json().files['db.pgdata'].bytes).toBeGreaterThan(dataBytes / 2);
  }, 300_000);

  it('takes the pg_basebackup tar instead, with a warning, when the helper image is missing', async () => {
    const r = await h.cli(['backup', pid, '--physical', '--json'], { env: { TENANTCTL_PHYSICAL_HELPER_IMAGE: 'tenantctl/no-such-helper:none' } });
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json().warnings.join('\n')).toMatch(/tenantctl\/no-such-helper:none .* is not on this engine.*pg_basebackup tar/);
    expect(Object.keys(r.json().snapshots).sort()).toEqual(['db.pgdata.tar', 'manifest.json', 'tenant.json']);
    tarBackup = r.json().id;
  }, 240_000);

  it('restores a physical backup in place, killed (-9) once proven: the next command finishes it, rows identical', async () => {
    await psql(pid, "DELETE FROM public.notes WHERE id % 5 = 0; UPDATE public.notes SET body = 'changed' WHERE id < 70");
    expect(await rows(pid)).not.toBe(originalPg);
    // The backup holds the roles' old verifiers: the restore sets today's (readiness logs in as tenant_app with it).
    const rotated = await h.cli(['rotate-secrets', pid, '--only', 'APP_DB_PASSWORD', '--json']);
    expect(rotated.exitCode, rotated.why).toBe(0);
    // The undo side of these same steps (before 'proven') is killed at every step by pitr.test.ts; here the finish.
    const run = await startPausedAt(h, ['restore', pid, '--from', physical, '--yes'], 'restore-physical:proven');
    run.child.kill('SIGKILL');
    await run.child;
    run.resume();
    const next = await h.cli(['start', pid, '--json']);
    expect(next.exitCode, next.why).toBe(0);
    expect(await rows(pid)).toBe(originalPg);
    const [op] = await h.adminQuery("SELECT state, data FROM admin_operations WHERE customer_id = $1 AND verb = 'pitr-restore' ORDER BY started_at DESC LIMIT 1", [pid]);
    expect(op.state).toBe('completed');
    expect(op.data.physical.backup).toBe(physical);
    // At the intent's top too, where retention looks for backups a running operation reads.
    expect(op.data.backup).toBe(physical);
    const db = await containerOf(project(pid), 'db');
    const left = (await execa('docker', ['exec', db, 'ls', '-A', '/var/lib/postgresql/data'])).stdout.split('\n').filter((f) => f.startsWith('.tenantctl-'));
    expect(left).toEqual([]);
    // A backup taken as pg_basebackup's tar (before file-level backups, or without the helper) restores too.
    await psql(pid, 'DELETE FROM public.notes WHERE id > 2000');
    const fromTar = await h.cli(['restore', pid, '--from', tarBackup, '--yes', '--json']);
    expect(fromTar.exitCode, fromTar.why).toBe(0);
    expect(await rows(pid)).toBe(originalPg);
    // --physical without a repository is refused (exit 2): a folder cannot dedupe the unchanged pages.
    const folder = await h.cli(['backup', pid, '--physical'], { env: { TENANTCTL_BACKUP_REPOSITORY: '' } });
    expect(folder.exitCode, folder.why).toBe(2);
  }, 240_000);
});
