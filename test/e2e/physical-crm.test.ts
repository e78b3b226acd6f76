// Physical backups of the default template (issue 23): a crm tenant (PostgreSQL and Redis) backed up
// physically into a local restic repository: the cluster's files by restic between pg_backup_start
// and pg_backup_stop, its Redis in the same backup as a logical backup takes it; the next backup of
// the unchanged tenant (by plans.<plan>.backupMethod, as the agent's scheduled backups run) skips
// the data files unread (restic's summary). Restore in place and --as (the source running) bring
// back exactly the backup's rows and Redis keys; a restore killed (SIGKILL, SIGINT) at its two new
// steps (pieces-staged, pieces-swapped) is undone, by the next command or in-process, every piece
// back as it was, nothing left. A restore sets the tenant's modules back to the backup's once it is
// proven (in place, --as, and finished by the next command after a kill at proven), and leaves them
// when undone. One admin database, one tenant, one repository for the file.
import { execa } from 'execa';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, createHarness, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { expectClean, fingerprint, interrupt, killHard, projectOf, psqlIn, writeMark } from './journal.js';

let h: Harness;
const id = 'pc';
const copy = 'pccopy';
let backup = '';
let backedUp = '';
let repo = '';
let passwordFile = '';
/** Every module of the catalogue, on or off, for the tenant at the backup (its tenant.json records the same). */
let modulesAtBackup: Record<string, boolean> = {};

const modulesOf = async (tenant: string): Promise<Record<string, boolean>> => Object.fromEntries((await h.adminQuery(
  'SELECT fm.key, COALESCE(cm.enabled, false) AS enabled FROM admin_feature_modules fm LEFT JOIN admin_customer_modules cm ON cm.module_key = fm.key AND cm.customer_id = $1 ORDER BY fm.key', [tenant],
)).map((r) => [r.key, r.enabled]));
/** ai_assistant (off by default, on in the backup) switched off: the tenant's modules then differ from the backup's. */
const switchOffAiAssistant = async () => {
  const r = await h.cli(['modules', 'disable', id, 'ai_assistant']);
  expect(r.exitCode, r.why).toBe(0);
  expect((await modulesOf(id)).ai_assistant).toBe(false);
};
const restic = (args: string[]) => execa('restic', args, { env: { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: passwordFile }, timeout: 60_000, reject: false });
/** tenantctl's own files left in the cluster's data volume (staged, set aside): none once a restore is settled. */
const pgLeftovers = async (tenant: string) => {
  const db = await containerOf(projectOf(h, tenant), 'db');
  return (await execa('docker', ['exec', db, 'ls', '-A', '/var/lib/postgresql/data'])).stdout.split('\n').filter((f) => f.startsWith('.tenantctl-'));
};

beforeAll(async () => {
  // Ports of its own: a restore stops the tenant's services, and another file's provision could take a published port meanwhile.
  // A run given ranges (the brief's lanes) takes those instead, as pitr.test.ts does.
  h = await createHarness('physcrm', {
    TENANTCTL_HEALTH_DEADLINE: '120',
    TENANTCTL_APP_PORTS: process.env.TENANTCTL_APP_PORTS || '23700-23719', TENANTCTL_DB_PORTS: process.env.TENANTCTL_DB_PORTS || '23720-23739', TENANTCTL_REDIS_PORTS: process.env.TENANTCTL_REDIS_PORTS || '23740-23759',
  });
  repo = path.join(h.dir, 'repo');
  passwordFile = path.join(h.dir, 'repo-password');
  writeFileSync(passwordFile, 'correct horse battery staple physical\n', { mode: 0o600 });
  chmodSync(passwordFile, 0o600);
  Object.assign(h.env, { TENANTCTL_BACKUP_REPOSITORY: repo, TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE: passwordFile });
  const init = await restic(['init']);
  if (init.exitCode !== 0) throw new Error(init.stderr);
  const p = await h.cli(['provision', id, '--plan', 'starter', '--json']);
  if (p.exitCode !== 0) throw new Error(p.why);
  await psqlIn(h, id, 'CREATE TABLE k (n bigint); INSERT INTO k SELECT generate_series(1, 20000)');
  await writeMark(h, id);
  // Not a default of the plan: a tenant provisioned for a restore (--as) differs from the backup too.
  const m = await h.cli(['modules', 'enable', id, 'ai_assistant']);
  if (m.exitCode !== 0) throw new Error(m.why);
}, 300_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

describe('physical backups of a crm tenant (PostgreSQL and Redis)', () => {
  it('takes the cluster file-level and Redis as a logical backup does; the unchanged tenant\'s next backup, by its plan\'s backupMethod, skips the data files', async () => {
    const r = await h.cli(['backup', id, '--physical', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    const made = r.json();
    expect(made.method).toBe('physical');
    expect(made.warnings).toBeUndefined();
    expect(Object.keys(made.snapshots).sort()).toEqual(['db.pgdata', 'db.pgwal.tar', 'manifest.json', 'redis.rdb', 'tenant.json']);
    backup = made.id;
    backedUp = await fingerprint(h, id);
    modulesAtBackup = await modulesOf(id);
    expect(modulesAtBackup.ai_assistant).toBe(true);
    // The modules a physical restore sets back are those of the backup's tenant.json.
    const doc = JSON.parse((await restic(['dump', made.snapshots['tenant.json'], `/tenantctl/${id}/tenant.json`])).stdout);
    expect(Object.fromEntries(doc.modules.map((m: { key: string; enabled: boolean }) => [m.key, m.enabled]))).toEqual(modulesAtBackup);
    const [row] = await h.adminQuery('SELECT state, manifest FROM admin_backups WHERE id = $1', [backup]);
    expect(row.state).toBe('succeeded');
    expect(row.manifest.template).toBe('crm');
    expect(row.manifest.pieces.db).toMatchObject({ kind: 'postgres', method: 'physical', layout: 'files', file: 'db.pgdata', wal: 'db.pgwal.tar' });
    expect(row.manifest.pieces.redis).toEqual(expect.objectContaining({ kind: 'redis', file: 'redis.rdb' }));
    expect(row.manifest.pieces.redis.method).toBeUndefined();
    // The Redis piece is the RDB snapshot a logical backup takes, read with restic itself.
    const rdb = await execa('restic', ['dump', made.snapshots['redis.rdb'], `/tenantctl/${id}/redis.rdb`], { env: { RESTIC_REPOSITORY: repo, RESTIC_PASSWORD_FILE: passwordFile }, encoding: 'buffer', timeout: 60_000 });
    expect(Buffer.from(rdb.stdout).subarray(0, 5).toString('latin1')).toBe('REDIS');

    // The plan says physical (no --physical): the agent's scheduled backups take the same path (backupTenant without a method).
    writeFileSync(path.join(h.dir, 'tenantctl.config.yaml'), 'plans:\n  starter:\n    backupMethod: physical\n');
    const again = await h.cli(['backup', id, '--json']);
    expect(again.exitCode, again.why).toBe(0);
    const second = again.json();
    expect(second.method).toBe('physical');
    expect(second.warnings).toBeUndefined();
    // restic's summary: the unchanged cluster's files skipped unread (same size, mtime, ctime, inode), little added.
    expect(second.physical.unmodified).toBeGreaterThan(second.physical.files * 0.8);
    expect(second.physical.addedBytes).toBeLessThan(made.files['db.pgdata'].bytes / 10);
    rmSync(path.join(h.dir, 'tenantctl.config.yaml'));
  }, 300_000);

  it('restores in place: exactly the backup\'s rows, Redis keys and modules, nothing left', async () => {
    await writeMark(h, id);
    await psqlIn(h, id, 'DELETE FROM k WHERE n % 7 = 0');
    await switchOffAiAssistant();
    expect(await fingerprint(h, id)).not.toBe(backedUp);
    const r = await h.cli(['restore', id, '--from', backup, '--yes', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ method: 'physical', mode: 'in-place', modulesChanged: ['ai_assistant on'] });
    expect(await fingerprint(h, id)).toBe(backedUp);
    expect(await modulesOf(id)).toEqual(modulesAtBackup);
    const [op] = await h.adminQuery("SELECT state, step, data FROM admin_operations WHERE customer_id = $1 AND verb = 'pitr-restore' ORDER BY started_at DESC LIMIT 1", [id]);
    expect(op.state).toBe('completed');
    expect(op.data.others.map((p: { name: string }) => p.name)).toEqual(['redis']);
    // Recorded before the first effect: a finish after a kill sets them without reading the backup.
    expect(Object.fromEntries(op.data.modules.map((m: { key: string; enabled: boolean }) => [m.key, m.enabled]))).toEqual(modulesAtBackup);
    expect(await pgLeftovers(id)).toEqual([]);
    await expectClean(h, id);
  }, 300_000);

  for (const step of ['pieces-staged', 'pieces-swapped']) {
    it(`a restore killed (-9) at ${step} is undone by the next command; Ctrl-C there undoes it in-process: every piece and the modules as they were`, async () => {
      await writeMark(h, id);
      await switchOffAiAssistant();
      const modulesBefore = await modulesOf(id);
      const before = await fingerprint(h, id);
      expect(before).not.toBe(backedUp);
      await killHard(await startPausedAt(h, ['restore', id, '--from', backup, '--yes', '--quiet'], `restore-physical:${step}`));
      const next = await h.cli(['start', id, '--json']);
      expect(next.exitCode, next.why).toBe(0);
      expect(await fingerprint(h, id)).toBe(before);
      const [killed] = await h.adminQuery("SELECT state FROM admin_operations WHERE customer_id = $1 AND verb = 'pitr-restore' ORDER BY started_at DESC LIMIT 1", [id]);
      expect(killed.state).toBe('undone');
      expect(await modulesOf(id)).toEqual(modulesBefore);
      expect(await pgLeftovers(id)).toEqual([]);
      await expectClean(h, id);

      const r = await interrupt(await startPausedAt(h, ['restore', id, '--from', backup, '--yes'], `restore-physical:${step}`));
      expect(r.exitCode, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/undone: pc runs on its own data again/);
      expect(await fingerprint(h, id)).toBe(before);
      expect(await modulesOf(id)).toEqual(modulesBefore);
      expect(await pgLeftovers(id)).toEqual([]);
      await expectClean(h, id);
    }, 420_000);
  }

  it('a restore killed (-9) at proven is finished by the next command: the backup\'s rows, and its modules from the intent', async () => {
    await writeMark(h, id);
    await switchOffAiAssistant();
    await killHard(await startPausedAt(h, ['restore', id, '--from', backup, '--yes', '--quiet'], 'restore-physical:proven'));
    expect((await modulesOf(id)).ai_assistant).toBe(false);
    const next = await h.cli(['start', id, '--json']);
    expect(next.exitCode, next.why).toBe(0);
    const [finished] = await h.adminQuery("SELECT state FROM admin_operations WHERE customer_id = $1 AND verb = 'pitr-restore' ORDER BY started_at DESC LIMIT 1", [id]);
    expect(finished.state).toBe('completed');
    expect(await fingerprint(h, id)).toBe(backedUp);
    expect(await modulesOf(id)).toEqual(modulesAtBackup);
    const [audit] = await h.adminQuery("SELECT new_values FROM admin_audit_logs WHERE customer_id = $1 AND action = 'backup.restored' ORDER BY id DESC LIMIT 1", [id]);
    expect(audit.new_values).toMatchObject({ backup, method: 'physical', modulesChanged: ['ai_assistant on'] });
    expect(await pgLeftovers(id)).toEqual([]);
    await expectClean(h, id);
  }, 300_000);

  it('a restore killed (-9) at started is undone by the next command, which keeps and reports what the restored stack held (its Redis files too)', async () => {
    await writeMark(h, id);
    const before = await fingerprint(h, id);
    await killHard(await startPausedAt(h, ['restore', id, '--from', backup, '--yes', '--quiet'], 'restore-physical:started'));
    const next = await h.cli(['start', id, '--json']);
    expect(next.exitCode, next.why).toBe(0);
    expect(await fingerprint(h, id)).toBe(before);
    const [killed] = await h.adminQuery("SELECT state, reason FROM admin_operations WHERE customer_id = $1 AND verb = 'pitr-restore' ORDER BY started_at DESC LIMIT 1", [id]);
    expect(killed.state).toBe('undone');
    // The restored stack ran: what it held is kept, never dropped, and said: the cluster in its volume, Redis's files in theirs.
    expect(killed.reason).toMatch(/kept what the restored server held in its volume .*\.tenantctl-pitr-[0-9a-f]+-restored\).*kept the restored redis's files \.tenantctl-restored-[0-9a-f]+-redis\/ in its volume/);
    const redisFiles = (await execa('docker', ['exec', await containerOf(projectOf(h, id), 'redis'), 'ls', '-A', '/data'])).stdout.split('\n');
    expect(redisFiles.filter((f) => /^\.tenantctl-restored-[0-9a-f]+-redis$/.test(f))).toHaveLength(1);
  }, 300_000);

  it('restores --as a new tenant while the source runs: the copy holds the backup\'s rows, keys and modules, the source is untouched', async () => {
    const source = await fingerprint(h, id);
    const r = await h.cli(['restore', id, '--from', backup, '--as', copy, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    // Provisioned with the plan's defaults (ai_assistant off), then set to the backup's.
    expect(r.json()).toMatchObject({ method: 'physical', mode: 'new', id: copy, modulesChanged: ['ai_assistant on'] });
    expect(await modulesOf(copy)).toEqual(modulesAtBackup);
    expect(await fingerprint(h, copy)).toBe(backedUp);
    expect(await fingerprint(h, id)).toBe(source);
    expect(await pgLeftovers(copy)).toEqual([]);
    await expectClean(h, copy);
    const d = await h.cli(['deprovision', copy, '--yes']);
    expect(d.exitCode, d.why).toBe(0);
  }, 300_000);
});
