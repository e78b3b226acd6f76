// Point-in-time recovery (issue 23), on real Docker, PostgreSQL and restic: a tenant on a plan with
// pitr archives WAL into its archive volume, tenantctl ships it into a restic repository and takes
// physical base backups there; `restore --to-time` brings back exactly the state of a moment
// between two writes, in place or `--as` a new tenant (the original untouched); `status --json`
// shows the archive lag; a to-time restore killed (SIGKILL, SIGINT) at its steps is undone by the
// next command before 'proven' and finished from it, the tenant's data intact either way; a WAL
// shipment killed after restic recorded its batch is settled by the next one (forgotten, audited),
// also one of a folder another cluster's WAL was set aside in (shipped under that cluster's id);
// a tenant whose database was made anew (deprovision, provision) is restored to a moment before
// that from the old database's WAL alone (the new one's segments have the same names), and a target
// in the new database's life without a base backup of it is refused.
// Shared setup: one admin database, two PITR tenants (the second set up beside the first), one local
// repository for the whole file.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { interrupt, killHard, projectOf, psqlIn } from './journal.js';

let h: Harness;
const id = 'pt';
const copy = 'ptcopy';
/** The tenant whose database the file makes anew. */
const anew = 'ptanew';
/** A moment after row 1 was committed and before row 2 was. */
let between = '';
/** For `anew`: a moment between its rows 1 and 2, both written by its first database. */
let anewBetween = '';
let repo = '';
let passwordFile = '';

/** The incarnation id in the tenant's data directory (src/pitr/incarnation.ts). */
const incarnationIn = async (tenant: string) => (await execa('docker', ['exec', await containerOf(projectOf(h, tenant), 'db'), 'cat', '/var/lib/postgresql/data/tenantctl-incarnation'])).stdout.trim();
const rows = async (tenant: string) => psqlIn(h, tenant, "SELECT coalesce(string_agg(n::text, ',' ORDER BY n), '') FROM k");
const restic = (args: string[]) => execa('restic', args, { env: { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: passwordFile }, timeout: 60_000, reject: false });

beforeAll(async () => {
  // Ports of its own: a tenant stopped by a test must find its ports free again when other files' tenants run beside it.
  // A run given ranges (the brief's lanes) takes those instead.
  h = await createHarness('pitr', {
    TENANTCTL_HEALTH_DEADLINE: '120',
    TENANTCTL_APP_PORTS: process.env.TENANTCTL_APP_PORTS || '23600-23619', TENANTCTL_DB_PORTS: process.env.TENANTCTL_DB_PORTS || '23620-23639', TENANTCTL_REDIS_PORTS: process.env.TENANTCTL_REDIS_PORTS || '23640-23659',
  });
  repo = path.join(h.dir, 'repo');
  passwordFile = path.join(h.dir, 'repo-password');
  writeFileSync(passwordFile, 'correct horse battery staple pitr\n', { mode: 0o600 });
  chmodSync(passwordFile, 0o600);
  Object.assign(h.env, { TENANTCTL_BACKUP_REPOSITORY: repo, TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE: passwordFile });
  writeFileSync(path.join(h.dir, 'tenantctl.config.yaml'), 'plans:\n  enterprise:\n    pitr: true\npitr:\n  archiveTimeoutSeconds: 10\n');
  const init = await restic(['init']);
  if (init.exitCode !== 0) throw new Error(init.stderr);
  const p = await h.cli(['provision', id, '--plan', 'enterprise', '--json']);
  if (p.exitCode !== 0) throw new Error(p.why);
  // Each tenant: a base backup, row 1, a moment, row 2. The first provision started the admin
  // database; the second tenant (a provision and two backups) is set up beside the first: the
  // setup took 64 s instead of 26 s with the first alone (2-core host, 2026-12-06).
  const twoRows = async (tenant: string, filler = '') => {
    await psqlIn(h, tenant, 'CREATE TABLE k (n bigint)');
    const b = await h.cli(['backup', tenant, '--json']);
    if (b.exitCode !== 0) throw new Error(b.why);
    if (!b.json().pitr?.base?.snapshotId) throw new Error(`backup of a PITR tenant took no base backup: ${b.stdout}`);
    if (filler) await psqlIn(h, tenant, filler);
    await psqlIn(h, tenant, 'INSERT INTO k VALUES (1)');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const moment = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await psqlIn(h, tenant, 'INSERT INTO k VALUES (2)');
    return moment;
  };
  [between, anewBetween] = await Promise.all([twoRows(id), (async () => {
    const q = await h.cli(['provision', anew, '--plan', 'enterprise', '--json']);
    if (q.exitCode !== 0) throw new Error(q.why);
    // Some 15 MB of WAL between its base and row 1: the segments its restores replay reach past the
    // names the made-anew database writes (below), including those it archives while a restore pauses.
    const moment = await twoRows(anew, 'CREATE TABLE filler (n bigint); INSERT INTO filler SELECT generate_series(1, 250000)');
    // Its first database's WAL up to row 2 (a commit after the moment) into the repository before it is made anew.
    const b = await h.cli(['backup', anew, '--json']);
    if (b.exitCode !== 0) throw new Error(b.why);
    return moment;
  })()]);
}, 300_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

describe('migration 028', () => {
  // 024 writes admin_operations.verb's check as an array literal (`verb = ANY ('{a,b}'::text[])`), the
  // shape every admin database since 024 has: 028 must keep each value of it (and of the IN shape),
  // not narrow the check to 'pitr-prune'. Run on scratch tables in a schema of their own, rolled back.
  it('adds pitr-prune to checks of both shapes, keeping theirs, and stops on a check it cannot read', async () => {
    const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'admin-db.env'), 'utf8'))![1];
    const client = new pg.Client({ host: '127.0.0.1', port: Number(h.env.TENANTCTL_ADMIN_DB_PORT), user: 'tenantctl', password, database: 'tenantctl_admin' });
    await client.connect();
    const migration = readFileSync(path.join(import.meta.dirname, '..', '..', 'scripts', 'admin-migrations', '028_pitr_batches_in_flight_and_retention.sql'), 'utf8');
    const scratch = async (verbs: string, body: () => Promise<void>) => {
      await client.query('BEGIN');
      try {
        await client.query('CREATE SCHEMA tct_scratch_028; SET LOCAL search_path = tct_scratch_028');
        await client.query(`CREATE TABLE admin_operations (id serial, verb text CHECK (${verbs}), finished_at timestamptz, CHECK (verb <> 'restore' OR finished_at IS NULL OR id > 0));
          CREATE TABLE admin_wal_shipping (tenant text); CREATE TABLE admin_pitr_base_backups (id serial);
          INSERT INTO admin_operations (verb) VALUES ('upgrade')`);
        await body();
      } finally {
        await client.query('ROLLBACK');
      }
    };
    try {
      for (const verbs of ["verb IN ('create', 'restore', 'upgrade', 'domains-add')", "verb = ANY ('{create,restore,upgrade,domains-add}'::text[])"]) {
        await scratch(verbs, async () => {
          await client.query(migration);
          await client.query("INSERT INTO admin_operations (verb) VALUES ('create'), ('restore'), ('domains-add'), ('pitr-prune')");
          await expect(client.query("INSERT INTO admin_operations (verb) VALUES ('nonsense')")).rejects.toThrow(/check constraint/);
        });
      }
      await scratch("verb IN ('create', 'upgrade')", async () => {
        await expect(client.query(migration)).rejects.toThrow(/migration 028: .*no 'restore'/);
      });
    } finally {
      await client.end();
    }
  });
});

describe('archiving and shipping', () => {
  it('only a PITR plan gets the archive: its db archives into a third volume, and status --json shows the lag', async () => {
    const volumes = (await dockerObjectsWithPrefix(projectOf(h, id))).volumes;
    expect(volumes.some((v) => v.endsWith('_wal-archive'))).toBe(true);
    const db = await containerOf(projectOf(h, id), 'db');
    expect((await execa('docker', ['exec', db, 'psql', '-X', '-A', '-t', '-U', 'tenant_owner', '-d', 'tenant', '-c', 'SHOW archive_mode'])).stdout.trim()).toBe('on');
    const s = await h.cli(['status', id, '--json']);
    expect(s.exitCode, s.why).toBe(0);
    const archive = s.json().archive;
    expect(archive.newestSegment).toMatch(/^[0-9A-F]{24}$/);
    expect(archive.lagSeconds).toBeGreaterThanOrEqual(0);
    expect(archive.lagSeconds).toBeLessThan(600);
    expect(typeof archive.waiting).toBe('number');
    expect(archive.waitingCountedNow).toBe(true);
    // The repository is plain restic: its WAL batches and base backup are tagged for the tenant.
    const snaps = JSON.parse((await restic(['snapshots', '--json', '--tag', `tenant=${id}`])).stdout) as Array<{ tags: string[] }>;
    expect(snaps.some((x) => x.tags.includes('kind=wal'))).toBe(true);
    expect(snaps.some((x) => x.tags.includes('kind=pitr-base'))).toBe(true);
  }, 120_000);

  it('a bad --to-time is exit 2 with one line, and nothing is recorded', async () => {
    for (const bad of ['yesterday', '2026-12-06T10:00:00', '2999-01-01T00:00:00Z']) {
      const r = await h.cli(['restore', id, '--to-time', bad, '--yes', '--json']);
      expect(r.exitCode, r.why).toBe(2);
      expect(r.json().error.message).toContain('--to-time');
    }
    const early = await h.cli(['restore', id, '--to-time', '2000-01-01T00:00:00Z', '--yes', '--json']);
    expect(early.exitCode, early.why).toBe(3);
    expect(early.json().error.message).toContain('no base backup');
    expect(await h.adminQuery("SELECT 1 FROM admin_operations WHERE verb = 'pitr-restore'")).toEqual([]);
  }, 120_000);
});

describe('a WAL shipment killed after restic recorded its batch', () => {
  // The batch holds the WAL of rows 1 and 2 (not shipped before): forgotten and shipped again, the restores below still find it.
  it('killed (SIGKILL, then SIGINT) at pitr-ship:recorded: the next shipment forgets the batch, says why, and ships its files again', async () => {
    const inFlight = async () => (await h.adminQuery('SELECT batches_in_flight AS b FROM admin_wal_shipping WHERE customer_id = $1', [id]))[0]?.b ?? [];
    const forgotten = async () => h.adminQuery("SELECT new_values FROM admin_audit_logs WHERE customer_id = $1 AND action = 'pitr.wal-batch-forgotten' ORDER BY id", [id]);
    const walPaths = async () => (JSON.parse((await restic(['snapshots', '--json', '--tag', `tenant=${id},kind=wal`])).stdout) as Array<{ paths: string[] }>).map((x) => x.paths[0]!.replace(/^\//, ''));
    const left: string[] = [];
    for (const signal of ['SIGKILL', 'SIGINT'] as const) {
      const run = await startPausedAt(h, ['backup', id, '--json'], 'pitr-ship:recorded');
      if (signal === 'SIGKILL') await killHard(run);
      else expect((await interrupt(run)).exitCode).toBe(130);
      const [batch] = (await inFlight()).filter((b: any) => !left.includes(b.file));
      expect(batch?.names.length, `${signal}: the killed batch is listed in flight`).toBeGreaterThan(0);
      expect(await walPaths(), `${signal}: restic recorded it`).toContain(batch.file);
      left.push(batch.file);
      // The run after the SIGKILL (the SIGINT one) settled that batch before shipping: one forget per kill so far.
      expect((await forgotten()).length).toBe(left.length - 1);
    }
    const b = await h.cli(['backup', id, '--json']);
    expect(b.exitCode, b.why).toBe(0);
    expect(await inFlight()).toEqual([]);
    const audits = (await forgotten()).map((r) => r.new_values);
    expect(audits.map((a) => a.file)).toEqual(left);
    for (const a of audits) expect(a.cause).toMatch(/after restic recorded its batch/);
    const paths = await walPaths();
    for (const file of left) expect(paths).not.toContain(file);
  }, 300_000);

  // Files another cluster archived, set aside by a to-time restore (archive-aside.ts), ship first,
  // under that cluster's incarnation: a shipment killed while it ships such a folder is settled the
  // same way, and the folder's files still ship under its id (never the running cluster's), and the
  // folder goes once emptied. The folder is made here as setAsideScript makes it (a restore costs a
  // minute): copies of a segment the running cluster archived, under names of a timeline it never
  // reaches (the shipper never reads a file's content), so which files each batch holds tells the
  // two apart.
  it('killed (SIGKILL, then SIGINT) while shipping a set-aside folder: the next shipment forgets the batch and ships the folder under its own incarnation, then removes it', async () => {
    const other = randomBytes(16).toString('hex');
    const folder = `.tenantctl-${other}`;
    const db = await containerOf(projectOf(h, id), 'db');
    const owner = (await execa('docker', ['exec', db, 'stat', '-c', '%u:%g', '/archive'])).stdout.trim();
    const asOwner = (script: string) => execa('docker', ['exec', '-u', owner, db, 'sh', '-c', script]);
    const started = Date.now();
    try {
      // A segment of the running cluster, archived into the root (where it stays: shipped under its id).
      // A transaction id taken commits one: the segment switched has something in it, and is archived.
      const superuser = (sql: string) => execa('docker', ['exec', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '/run/postgresql', '-U', 'postgres', '-d', 'postgres', '-c', sql]);
      await superuser('SELECT pg_current_xact_id()');
      const segment = (await superuser('SELECT pg_walfile_name(pg_switch_wal() - 1)')).stdout.trim();
      expect(segment).toMatch(/^[0-9A-F]{24}$/);
      for (let i = 0; (await asOwner(`test -f /archive/${segment} && echo yes || true`)).stdout.trim() !== 'yes'; i++) {
        if (i > 300) throw new Error(`${segment} was not archived within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const names = [0, 1, 2].map((n) => `00000077${(BigInt(`0x${segment.slice(8)}`) + BigInt(n)).toString(16).toUpperCase().padStart(16, '0')}`);
      await asOwner([
        `mkdir /archive/${folder}`, `chown "$(stat -c %u:%g /archive)" /archive/${folder}`, `chmod 0700 /archive/${folder}`,
        ...names.map((n) => `cp -p /archive/${segment} /archive/${folder}/${n}`),
      ].join(' && '));

      const inFlight = async () => (await h.adminQuery('SELECT batches_in_flight AS b FROM admin_wal_shipping WHERE customer_id = $1', [id]))[0]?.b ?? [];
      const forgotten = async () => (await h.adminQuery("SELECT new_values FROM admin_audit_logs WHERE customer_id = $1 AND action = 'pitr.wal-batch-forgotten' ORDER BY id", [id])).map((r) => r.new_values);
      const tagged = async (incarnation: string) => (JSON.parse((await restic(['snapshots', '--json', '--tag', `tenant=${id},kind=wal,incarnation=${incarnation}`])).stdout) as Array<{ id: string; time: string; paths: string[]; tags: string[] }>)
        .map((x) => ({ ...x, file: x.paths[0]!.replace(/^\//, '') }));
      /** The files a WAL batch holds (its tar, listed). */
      const filesOf = async (snapshot: { id: string; file: string }) => {
        const dump = await execa('sh', ['-c', `restic dump ${snapshot.id} /${snapshot.file} | tar -tf -`], { env: { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: passwordFile }, timeout: 60_000 });
        return dump.stdout.split('\n').filter(Boolean).sort();
      };
      const audited = (await forgotten()).length;
      const left: string[] = [];
      for (const signal of ['SIGKILL', 'SIGINT'] as const) {
        const run = await startPausedAt(h, ['backup', id, '--json'], 'pitr-ship:recorded');
        if (signal === 'SIGKILL') await killHard(run);
        else expect((await interrupt(run)).exitCode).toBe(130);
        const batches = (await inFlight()).filter((b: any) => b.folder === folder && !left.includes(b.file));
        expect(batches, `${signal}: the aside batch is listed in flight`).toHaveLength(1);
        expect(batches[0]).toMatchObject({ names, incarnation: other });
        expect((await tagged(other)).map((x) => x.file), `${signal}: restic recorded it under the folder's incarnation`).toContain(batches[0].file);
        left.push(batches[0].file);
        // The run after the SIGKILL settled that batch before shipping the folder again.
        expect((await forgotten()).length - audited).toBe(left.length - 1);
        expect((await asOwner(`ls -A /archive/${folder}`)).stdout.split('\n').sort(), `${signal}: the folder's files wait in it`).toEqual(names);
      }
      const b = await h.cli(['backup', id, '--json']);
      expect(b.exitCode, b.why).toBe(0);
      expect(await inFlight()).toEqual([]);
      const audits = (await forgotten()).slice(audited);
      expect(audits.map((a) => a.file)).toEqual(left);
      for (const a of audits) expect(a.cause).toMatch(/after restic recorded its batch/);
      // One batch of the folder's incarnation remains, the one shipped after the kills, holding its files.
      const theirs = await tagged(other);
      expect(theirs).toHaveLength(1);
      expect(left).not.toContain(theirs[0]!.file);
      expect(await filesOf(theirs[0]!)).toEqual(names);
      // Tagged as shipped from an aside folder: wal-for-base.ts reads it as no sign of the database made anew.
      expect(theirs[0]!.tags).toContain('aside=1');
      // The emptied folder is gone; the root's segment went under the running cluster's id, and no batch of it holds the folder's files.
      expect((await execa('docker', ['exec', db, 'ls', '-A', '/archive'])).stdout.split('\n')).not.toContain(folder);
      const live = await incarnationIn(id);
      const ours = (await tagged(live)).filter((x) => Date.parse(x.time) >= started - 5_000);
      const shipped = (await Promise.all(ours.map(filesOf))).flat();
      expect(shipped).toContain(segment);
      for (const x of ours) expect(x.tags, 'a batch of the archive root is not tagged aside').not.toContain('aside=1');
      for (const n of names) expect(shipped).not.toContain(n);
      // Shipped before the base this backup took began: a batch of another incarnation shipped after
      // a base began reads as the database made anew after it (wal-for-base.ts), which would refuse
      // every to-time restore from that base to a moment after the batch.
      const [base] = await h.adminQuery('SELECT started_at FROM admin_pitr_base_backups WHERE customer_id = $1 ORDER BY completed_at DESC LIMIT 1', [id]);
      expect(Date.parse(theirs[0]!.time)).toBeLessThan((base.started_at as Date).getTime());
    } finally {
      // Left only by a failure: the restore tests below expect no other incarnation's folder.
      await asOwner(`rm -rf /archive/${folder}`).catch(() => undefined);
    }
  }, 180_000);
});

describe('restore --to-time', () => {
  it('--as a new tenant: exactly the first row, and the original keeps both', async () => {
    const r = await h.cli(['restore', id, '--to-time', between, '--as', copy, '--json'], { timeoutMs: 240_000 });
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ id: copy, source: id, mode: 'new' });
    expect(await rows(copy)).toBe('1');
    expect(await rows(id)).toBe('1,2');
    // Its history starts here: an incarnation of its own, not its source's.
    expect(await incarnationIn(copy)).toMatch(/^[0-9a-f]{32}$/);
    expect(await incarnationIn(copy)).not.toBe(await incarnationIn(id));
    // The recovery settings were reset once it promoted: a later restart does not recover again.
    expect((await execa('docker', ['exec', await containerOf(projectOf(h, copy), 'db'), 'psql', '-X', '-A', '-t', '-U', 'tenant_owner', '-d', 'tenant', '-c', 'SHOW restore_command'])).stdout.trim()).toBe('');
    const d = await h.cli(['deprovision', copy, '--yes']);
    expect(d.exitCode, d.why).toBe(0);
  }, 240_000);

  // Within the file's time budget, one kill per stage of the data: before anything was stopped
  // (the stage removed), the live WAL set aside (both signals: the step is the newest), the live
  // data set aside (put back), the restored server started (what it
  // held kept aside), and SIGKILL at 'proven' below (finished); SIGKILL and SIGINT each on both
  // sides of the swap. TENANTCTL_E2E_PITR_ALL=1 kills every step with both signals (18 kills; 16 took
  // 11.4 minutes on the shared 2-core host: run it before changing the verb).
  const every = ['begun', 'shipped', 'staged', 'stopped', 'archive-set-aside', 'swapped', 'starting', 'started', 'promoted'];
  const kills: Array<[string, 'SIGKILL' | 'SIGINT']> = process.env.TENANTCTL_E2E_PITR_ALL === '1'
    ? every.flatMap((step) => [[step, 'SIGKILL'], [step, 'SIGINT']] as Array<[string, 'SIGKILL' | 'SIGINT']>)
    : [['staged', 'SIGINT'], ['archive-set-aside', 'SIGKILL'], ['archive-set-aside', 'SIGINT'], ['swapped', 'SIGKILL'], ['started', 'SIGINT']];
  for (const [step, signal] of kills) {
    it(`killed (${signal}) at ${step}: the next command undoes it, both rows still there`, async () => {
      const run = await startPausedAt(h, ['restore', id, '--to-time', between, '--yes'], `pitr-restore:${step}`);
      if (signal === 'SIGKILL') {
        await killHard(run);
        const next = await h.cli(['start', id]);
        expect(next.exitCode, next.why).toBe(0);
        expect(next.stderr).toMatch(/undone/);
      } else {
        const r = await interrupt(run);
        expect(r.exitCode, r.stderr).toBe(130);
        expect(r.stderr).toMatch(/undone/);
      }
      expect(await rows(id)).toBe('1,2');
      expect(await h.adminQuery("SELECT step FROM admin_operations WHERE customer_id = $1 AND state = 'running'", [id])).toEqual([]);
      const db = await containerOf(projectOf(h, id), 'db');
      const left = (await execa('docker', ['exec', db, 'ls', '-A', '/var/lib/postgresql/data'])).stdout.split('\n').filter((f) => f.startsWith('.tenantctl-pitr'));
      // Once the restored server had started, what it held is kept (and said), never dropped; else nothing is left.
      // What the live cluster archived while the restore ran waits under its own id (shipped next), never another's.
      const aside = (await execa('docker', ['exec', db, 'ls', '-A', '/archive'])).stdout.split('\n').filter((f) => f.startsWith('.tenantctl-'));
      const live = await incarnationIn(id);
      expect(aside.filter((f) => f !== `.tenantctl-${live}`)).toEqual([]);
      const ran = ['starting', 'started', 'promoted'].includes(step);
      expect(left.filter((f) => !f.endsWith('-restored'))).toEqual([]);
      if (ran) {
        expect(left.filter((f) => f.endsWith('-restored'))).toHaveLength(1);
        await execa('docker', ['exec', db, 'sh', '-c', 'rm -rf /var/lib/postgresql/data/.tenantctl-pitr-*-restored']);
      }
    }, 180_000);
  }

  // A target after the tenant's last write: PostgreSQL stops only at a commit stamped after the
  // target, which a quiet tenant does not have (the restore commits one itself before shipping).
  it('killed (SIGKILL) at proven, the target after the last write: the next command finishes it: both rows', async () => {
    // Row 2 was committed in beforeAll, before every test: now is after it.
    const quiet = new Date().toISOString();
    const run = await startPausedAt(h, ['restore', id, '--to-time', quiet, '--yes'], 'pitr-restore:proven');
    await killHard(run);
    const next = await h.cli(['start', id]);
    expect(next.exitCode, next.why).toBe(0);
    expect(next.stderr).toContain(`run tenantctl backup ${id}`);
    expect(await rows(id)).toBe('1,2');
    const s = await h.cli(['status', id, '--json']);
    expect(s.exitCode, s.why).toBe(0);
  }, 180_000);
});

describe('a tenant whose database was made anew (its incarnation)', () => {
  const walOf = async (tenant: string) => (JSON.parse((await restic(['snapshots', '--json', '--tag', `tenant=${tenant},kind=wal`])).stdout) as Array<{ id: string; time: string; paths: string[]; tags: string[] }>)
    .map((s) => ({ ...s, incarnation: s.tags.find((t) => t.startsWith('incarnation='))?.slice('incarnation='.length) })).sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  /** The segments a batch holds, from its path (wal-<first>-<last>-<nonce>.tar): their names on timeline 1. */
  const segmentsOf = (p: string): string[] => {
    const m = /wal-00000001([0-9A-F]{16})[^-]*-00000001([0-9A-F]{16})[^-]*-/.exec(p);
    if (!m) return [];
    const [from, to] = [BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)];
    const out: string[] = [];
    for (let n = from; n <= to; n++) out.push(n.toString(16).toUpperCase().padStart(16, '0'));
    return out;
  };

  it('restored to a moment before: exactly the first database\'s rows, from its WAL alone; a moment in the new one\'s life before its first base: exit 3', async () => {
    const first = await incarnationIn(anew);
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    // Its base backups and WAL batches name it (restic tags, the rows).
    expect((await h.adminQuery('SELECT DISTINCT incarnation FROM admin_pitr_base_backups WHERE customer_id = $1', [anew])).map((r) => r.incarnation)).toEqual([first]);
    expect(new Set((await walOf(anew)).map((s) => s.incarnation))).toEqual(new Set([first]));

    // Made anew the cheapest way the verbs offer: its volumes removed, new ones made from the image.
    const d = await h.cli(['deprovision', anew, '--yes']);
    expect(d.exitCode, d.why).toBe(0);
    const p = await h.cli(['provision', anew, '--plan', 'enterprise']);
    expect(p.exitCode, p.why).toBe(0);
    // Rows, and enough WAL (some 6 MB: 1 MB segments) that the new database's segments reach past
    // the names the old base replays: extracted together, they would take the old ones' place.
    await psqlIn(h, anew, 'CREATE TABLE k (n bigint); INSERT INTO k VALUES (100); INSERT INTO k SELECT generate_series(1000, 100000)');

    // Paused once the live (new) database's WAL was shipped: it writes on and closes a segment,
    // archived before it is stopped. Those files are its own (set aside and shipped under its
    // incarnation), not the restored one's: tagged with the old incarnation, their names would
    // overwrite the old database's own segments in every later restore.
    const paused = await startPausedAt(h, ['restore', anew, '--to-time', anewBetween, '--yes', '--json'], 'pitr-restore:shipped');
    const live = await containerOf(projectOf(h, anew), 'db');
    await psqlIn(h, anew, 'INSERT INTO k SELECT generate_series(200000, 230000)');
    await execa('docker', ['exec', live, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '/run/postgresql', '-U', 'postgres', '-d', 'postgres', '-c', 'SELECT pg_switch_wal()']);
    for (let i = 0; !(await execa('docker', ['exec', live, 'find', '/archive', '-maxdepth', '1', '-type', 'f', '-name', '0*', '!', '-name', '*.part'])).stdout.trim(); i++) {
      if (i > 100) throw new Error('the live database archived nothing after pg_switch_wal');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    paused.resume();
    const r = await paused.child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(await rows(anew)).toBe('1');
    // The restore shipped the new database's WAL first, under an incarnation of its own, whose
    // segment names are the old one's (both start from the image's cluster): a real collision.
    const wal = await walOf(anew);
    const second = wal.filter((s) => s.incarnation !== first);
    expect(second.length, 'the new database\'s WAL was shipped').toBeGreaterThan(0);
    expect(new Set(second.map((s) => s.incarnation)).size).toBe(1);
    const [op] = await h.adminQuery("SELECT data FROM admin_operations WHERE customer_id = $1 AND verb = 'pitr-restore' AND state = 'completed' ORDER BY id DESC LIMIT 1", [anew]);
    const read = (op.data.wal as Array<{ id: string; path: string }>);
    expect(read.length).toBeGreaterThan(0);
    expect(read.filter((b) => second.some((s) => s.id === b.id)), 'no batch of the new database was read').toEqual([]);
    // Segments of the same names as those the restore read (the base's and after it, not only one before it).
    const readNames = new Set(read.flatMap((b) => segmentsOf(b.path)));
    const clash = second.flatMap((s) => segmentsOf(s.paths[0]!)).filter((n) => readNames.has(n));
    expect(clash.length, `the new database shipped segments of names the restore read from the old one (${[...readNames].join(' ')})`).toBeGreaterThanOrEqual(3);
    // Restored physically from the first database's base: its history, its incarnation.
    expect(await incarnationIn(anew)).toBe(first);

    // A moment when the new database ran (its batch was shipped), before any base backup of it
    // completed: the newest base before it is the first database's, which cannot reach it. Refused
    // before anything is recorded.
    const shippedAt = Date.parse(second[0]!.time);
    const [newBase] = await h.adminQuery('SELECT completed_at FROM admin_pitr_base_backups WHERE customer_id = $1 ORDER BY completed_at DESC LIMIT 1', [anew]);
    const inNewLife = new Date(shippedAt + 500).toISOString();
    expect(shippedAt + 500).toBeLessThan((newBase.completed_at as Date).getTime());
    const operations = (await h.adminQuery('SELECT count(*)::int AS n FROM admin_operations WHERE customer_id = $1', [anew]))[0].n;
    const refused = await h.cli(['restore', anew, '--to-time', inNewLife, '--yes', '--json']);
    expect(refused.exitCode, refused.why).toBe(3);
    expect(refused.json().error.message).toMatch(/made anew/);
    expect((await h.adminQuery('SELECT count(*)::int AS n FROM admin_operations WHERE customer_id = $1', [anew]))[0].n).toBe(operations);
    expect(await rows(anew)).toBe('1');

    // The old database's history is whole: the same moment again, --as a new tenant, from its WAL.
    const again = `${anew}2`;
    const r2 = await h.cli(['restore', anew, '--to-time', anewBetween, '--as', again, '--json'], { timeoutMs: 240_000 });
    expect(r2.exitCode, r2.why).toBe(0);
    expect(await rows(again)).toBe('1');
    expect(await incarnationIn(again)).not.toBe(first);
    const d2 = await h.cli(['deprovision', again, '--yes']);
    expect(d2.exitCode, d2.why).toBe(0);
  }, 420_000);
});

describe('retention of base backups and WAL (plans.<plan>.pitrRetention)', () => {
  it('keepBaseBackups 1: each base backup forgets the older bases; killed (SIGKILL, SIGINT) it is finished', async () => {
    const baseRows = async () => (await h.adminQuery('SELECT snapshot_id FROM admin_pitr_base_backups WHERE customer_id = $1', [id])).map((r) => r.snapshot_id as string);
    // Two bases at least, whatever ran before (alone, the file's setup took one): under the default
    // policy, before this test's is written.
    if ((await baseRows()).length < 2) {
      const b = await h.cli(['backup', id, '--json']);
      expect(b.exitCode, b.why).toBe(0);
    }
    writeFileSync(path.join(h.dir, 'tenantctl.config.yaml'), 'plans:\n  enterprise:\n    pitr: true\n    pitrRetention:\n      keepBaseBackups: 1\npitr:\n  archiveTimeoutSeconds: 10\n');
    const tagged = async (kind: string) => (JSON.parse((await restic(['snapshots', '--json', '--tag', `tenant=${id},kind=${kind}`])).stdout) as Array<{ id: string; time: string }>);
    expect((await baseRows()).length).toBeGreaterThan(1);
    const recordedBefore: string[] = [];
    for (const [step, signal] of [['pitr-prune:rows-dropped', 'SIGKILL'], ['pitr-prune:begun', 'SIGINT']] as const) {
      recordedBefore.push(...await baseRows());
      const run = await startPausedAt(h, ['backup', id, '--json'], step);
      if (signal === 'SIGKILL') {
        await killHard(run);
        const next = await h.cli(['start', id]);
        expect(next.exitCode, next.why).toBe(0);
      } else {
        // Ctrl-C: what was chosen is removed all the same, then exit 130.
        expect((await interrupt(run)).exitCode).toBe(130);
      }
      expect(await h.adminQuery("SELECT step FROM admin_operations WHERE customer_id = $1 AND state = 'running'", [id])).toEqual([]);
      const rows = await baseRows();
      expect(rows, `${signal} at ${step}: one base kept`).toHaveLength(1);
      // The one kept base is the newest, and the repository holds no other recorded base.
      const bases = await tagged('pitr-base');
      // Rows hold restic's short id: the kept one is there; of the recorded ones before it, none (killed runs' unrecorded bases wait an hour).
      expect(bases.filter((b) => b.id.startsWith(rows[0]!))).toHaveLength(1);
      for (const gone of recordedBefore) expect(bases.filter((b) => b.id.startsWith(gone)), `base ${gone} forgotten`).toEqual([]);
    }
    // Which WAL batches go (those shipped over an hour before the oldest kept base began) is the unit tests': this file's history is minutes long.
    expect((await h.adminQuery("SELECT count(*)::int AS n FROM admin_operations WHERE customer_id = $1 AND verb = 'pitr-prune' AND state = 'completed'", [id]))[0].n).toBe(2);
  }, 300_000);
});
