// `restore` keeps the invariants (issue 19), on real Docker, PostgreSQL and Redis: killed with
// SIGKILL or SIGINT at every step it records, then settled by the next command on the tenant
// (another verb, doctor, or the restore again): nothing lost (rows and Redis keys counted and
// summed), nothing leaked (no scratch or replaced database, no Redis files set aside, no open
// journal row, the stack whole and healthy).
// - in place over a live tenant: undone before 'proven', finished from it; asks first (--yes);
// - over kept data (deprovision --keep-data): refused without --replace-kept-data; a kill or
//   Ctrl-C leaves the kept data as it was (the review's reproduced loss: 0 volumes, secrets gone);
// - as a new tenant: a kill leaves nothing once settled;
// - the admin database restarted under a running restore: it stops (its lock is lost, exit 8) and
//   the next command undoes it.
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerOf, createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { expectClean, fingerprint, interrupt, killHard, psqlIn, writeMark } from './journal.js';

let h: Harness;
/** The tenant restored in place again and again, its backup, and that backup's data. */
const live = 'iv';
let backup = '';
let backedUp = '';

/** The tenant deprovisioned with --keep-data that 'restore over kept data' restores over, its backup, that backup's data, and the data kept. */
const kept = 'kd';
let keptBackup = '';
let keptBackedUp = '';
let keptData = '';

async function setUpLive(): Promise<void> {
  const r = await h.cli(['provision', live, '--json']);
  if (r.exitCode !== 0) throw new Error(r.why);
  // Big enough that pg_restore is still running when the run pauses inside it (a few seconds).
  await psqlIn(h, live, 'CREATE TABLE k (n bigint); INSERT INTO k SELECT generate_series(1, 400000)');
  await writeMark(h, live);
  const b = await h.cli(['backup', live, '--json']);
  if (b.exitCode !== 0) throw new Error(b.why);
  backup = b.json().id;
  backedUp = await fingerprint(h, live);
}

async function setUpKept(): Promise<void> {
  const r = await h.cli(['provision', kept]);
  if (r.exitCode !== 0) throw new Error(r.why);
  await psqlIn(h, kept, 'CREATE TABLE k (n bigint); INSERT INTO k SELECT generate_series(1, 200000)');
  const b = await h.cli(['backup', kept, '--json']);
  if (b.exitCode !== 0) throw new Error(b.why);
  keptBackup = b.json().id;
  keptBackedUp = await fingerprint(h, kept);
  await writeMark(h, kept);
  keptData = await fingerprint(h, kept);
  const d = await h.cli(['deprovision', kept, '--yes', '--keep-data']);
  if (d.exitCode !== 0) throw new Error(d.why);
}

beforeAll(async () => {
  // Ports of its own, away from the defaults other suites on a shared host draw from: a restore stops
  // the tenant's services, and another registry's provision could take a published port meanwhile.
  h = await createHarness('killrestore', {
    TENANTCTL_HEALTH_DEADLINE: '120', TENANTCTL_APP_PORTS: '23400-23449', TENANTCTL_DB_PORTS: '23450-23499', TENANTCTL_REDIS_PORTS: '23500-23549',
  });
  const admin = await h.cli(['list']); // the admin database, started once before the two setups
  if (admin.exitCode !== 0) throw new Error(admin.why);
  // The two tenants are independent, and the kept one is only set aside (no containers) while the
  // in-place tests run: set up at once.
  await Promise.all([setUpLive(), setUpKept()]);
}, 600_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

const restoreLive = ['restore', live, '--from', () => backup, '--yes'] as const;
const args = () => restoreLive.map((a) => (typeof a === 'function' ? a() : a));

/** The live tenant with a change its backup does not have: what an undone restore must leave. */
async function changed(): Promise<string> {
  await writeMark(h, live);
  const now = await fingerprint(h, live);
  expect(now).not.toBe(backedUp);
  return now;
}

/**
 * Undone after the restored stack had started: what it held (the backup's rows, and anything its
 * app wrote since) is kept aside and said, never dropped; the operator drops it once looked at.
 */
async function expectRestoredKept(said: string, id = live): Promise<void> {
  expect(said).toMatch(/is kept, not dropped: .*database restored_\w+_db/);
  expect(said).toMatch(/is kept, not dropped: .*redis's files \.tenantctl-restored-[\w-]+-redis\/ in its volume/);
  const kept = await psqlIn(h, id, "SELECT datname FROM pg_database WHERE datname LIKE 'restored\\_%'");
  expect(kept).toMatch(/^restored_\w+_db$/);
  await psqlIn(h, id, `DROP DATABASE ${kept}`);
  const redis = await containerOf(`${h.prefix}-${id}`, 'redis');
  await execa('docker', ['exec', redis, 'sh', '-c', 'rm -rf /data/.tenantctl-restored-*']);
}

/** Every step a restore records, and restore:pg-restore, reached while pg_restore loads the scratch database (recorded step: begun). */
const steps = ['begun', 'pg-restore', 'staged', 'clients-stopped', 'swapped', 'starting', 'started', 'proven'];
/** From 'starting' the restored stack may have run: an undo keeps what it held. */
const restoredRan = (step: string) => step === 'starting' || step === 'started';

describe('restore in place over a live tenant', () => {
  it('without --yes and without a terminal it is refused (exit 4) and nothing changes', async () => {
    const before = await changed();
    const r = await h.cli(['restore', live, '--from', backup, '--json']);
    expect(r.exitCode, r.why).toBe(4);
    expect(r.json().error.message).toContain('--yes');
    expect(await fingerprint(h, live)).toBe(before);
    await expectClean(h, live);
  }, 120_000);

  it.each(steps)('kill -9 at restore:%s, then `start` settles it: undone before proven, finished at proven', async (step) => {
    const before = await changed();
    await killHard(await startPausedAt(h, [...args(), '--quiet'], `restore:${step}`));
    const pending = await h.cli(['status', live, '--json']);
    expect(pending.exitCode, pending.why).toBe(5);
    expect(pending.json().operation).toMatchObject({ verb: 'restore', step: step === 'pg-restore' ? 'begun' : step });
    const settled = await h.cli(['start', live]);
    expect(settled.exitCode, settled.why).toBe(0);
    expect(settled.stderr).toContain(`the interrupted restore of ${live} is ${step === 'proven' ? 'finished' : 'undone'}`);
    expect(await fingerprint(h, live)).toBe(step === 'proven' ? backedUp : before);
    if (restoredRan(step)) await expectRestoredKept(settled.stderr);
    await expectClean(h, live);
  }, 300_000);

  it.each(steps)('Ctrl-C at restore:%s: exit 130 naming the step, undone in-process before proven, finished at proven', async (step) => {
    const before = await changed();
    const r = await interrupt(await startPausedAt(h, args(), `restore:${step}`));
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/tenantctl: interrupted while /);
    expect(r.stderr).toContain(step === 'proven' ? 'the restore had been proven ready: it was finished' : `undone: ${live} runs on its own data again, proven ready`);
    expect(await fingerprint(h, live)).toBe(step === 'proven' ? backedUp : before);
    if (restoredRan(step)) await expectRestoredKept(r.stderr);
    await expectClean(h, live);
  }, 300_000);

  it('kill -9 after the swap, then the same restore again: converged on the backup', async () => {
    await changed();
    await killHard(await startPausedAt(h, [...args(), '--quiet'], 'restore:swapped'));
    const again = await h.cli([...args(), '--json']);
    expect(again.exitCode, again.why).toBe(0);
    expect(again.stderr).toContain(`the interrupted restore of ${live} is undone`);
    expect(again.json()).toMatchObject({ outcome: 'restored', mode: 'in-place' });
    expect(await fingerprint(h, live)).toBe(backedUp);
    await expectClean(h, live);
  }, 300_000);

  it('the admin database restarted under a running restore: the lost lock stops it (exit 8), the next command undoes it', async () => {
    const before = await changed();
    const run = await startPausedAt(h, args(), 'restore:staged');
    const admin = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${h.prefix}-admin`])).stdout.trim();
    expect(admin).not.toBe('');
    await execa('docker', ['restart', '-t', '5', admin]);
    run.resume();
    const stopped = await run.child;
    expect(stopped.exitCode, String(stopped.stderr)).toBe(8);
    expect(String(stopped.stderr)).toMatch(/lock on iv was lost/);
    const settled = await h.cli(['start', live]);
    expect(settled.exitCode, settled.why).toBe(0);
    expect(settled.stderr).toContain(`the interrupted restore of ${live} is undone`);
    expect(await fingerprint(h, live)).toBe(before);
    await expectClean(h, live);
  }, 300_000);
});

describe('restore over kept data (deprovision --keep-data)', () => {
  const volumesOf = async (id: string) => (await dockerObjectsWithPrefix(`${h.prefix}-${id}`)).volumes.length;
  /** The kept data is set aside as it was: the row deprovisioned with kept data, two volumes, its passwords still sealed, nothing in flight. */
  async function expectKeptDataAside(): Promise<void> {
    const [row] = await h.adminQuery('SELECT status, kept_data FROM admin_customers WHERE id = $1', [kept]);
    expect(row).toEqual({ status: 'deprovisioned', kept_data: true });
    expect(await volumesOf(kept)).toBe(2);
    expect(await h.adminQuery("SELECT verb FROM admin_operations WHERE customer_id = $1 AND state = 'running'", [kept])).toEqual([]);
    const secrets = await h.cli(['secrets', kept]);
    expect(secrets.exitCode, secrets.why).toBe(0);
  }

  /** provision brings back exactly its rows and keys (settling a restore a killed run left first), then it is set aside again. */
  async function expectKeptDataComesBack(settles?: string, { restoredKept = false } = {}): Promise<void> {
    const back = await h.cli(['provision', kept]);
    expect(back.exitCode, back.why).toBe(0);
    if (settles) expect(back.stderr).toContain(settles);
    expect(await fingerprint(h, kept)).toBe(keptData);
    if (restoredKept) await expectRestoredKept(back.stderr, kept);
    const again = await h.cli(['deprovision', kept, '--yes', '--keep-data']);
    expect(again.exitCode, again.why).toBe(0);
    await expectKeptDataAside();
  }

  it('without --replace-kept-data it is refused (exit 5), naming the kept volumes, and nothing changes', async () => {
    const r = await h.cli(['restore', kept, '--from', keptBackup, '--json']);
    expect(r.exitCode, r.why).toBe(5);
    expect(r.json().error.message).toMatch(/has kept data .*volumes .*_db-data.*--replace-kept-data/);
    await expectKeptDataAside();
    await expectKeptDataComesBack();
  }, 300_000);

  it('Ctrl-C inside pg_restore (the reproduced loss): exit 130, the kept data and its passwords as they were', async () => {
    const r = await interrupt(await startPausedAt(h, ['restore', kept, '--from', keptBackup, '--replace-kept-data'], 'restore:pg-restore'));
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toContain(`undone: ${kept} is deprovisioned again with its kept data as it was`);
    await expectKeptDataAside();
    await expectKeptDataComesBack();
  }, 300_000);

  it.each(['provisioned', 'swapped', 'started'])('kill -9 at restore:%s, then `provision` settles it and brings the kept data back as it was', async (step) => {
    await killHard(await startPausedAt(h, ['restore', kept, '--from', keptBackup, '--replace-kept-data', '--quiet'], `restore:${step}`));
    // provision settles (undoes) the restore first, which deprovisions the tenant again keeping its data.
    await expectKeptDataComesBack(`the interrupted restore of ${kept} is undone`, { restoredKept: step === 'started' });
  }, 300_000);

  it('with --replace-kept-data it replaces the kept data with the backup\'s', async () => {
    const r = await h.cli(['restore', kept, '--from', keptBackup, '--replace-kept-data', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ mode: 'kept', outcome: 'provisioned-and-restored' });
    expect(await fingerprint(h, kept)).toBe(keptBackedUp);
    await expectClean(h, kept);
  }, 300_000);
});

describe('restore --as a new tenant', () => {
  it('kill -9 once staged, then doctor --fix settles it: nothing of the new tenant is left', async () => {
    await killHard(await startPausedAt(h, ['restore', live, '--from', backup, '--as', 'ivcopy', '--quiet'], 'restore:staged'));
    // The backup that unfinished restore reads from is not pruned meanwhile, whatever --keep says.
    const kept = await h.cli(['backup', live, '--keep', '1', '--json']);
    expect(kept.exitCode, kept.why).toBe(0);
    expect(kept.json().pruned).toEqual([]);
    expect((await h.adminQuery('SELECT state FROM admin_backups WHERE id = $1', [backup]))[0]).toEqual({ state: 'succeeded' });
    const doctor = await h.cli(['doctor', '--fix', '--json']);
    expect(doctor.json().findings.filter((f: any) => f.tenant === 'ivcopy')).toEqual([
      expect.objectContaining({ kind: 'interrupted-operation', fixed: true }),
    ]);
    expect(await dockerObjectsWithPrefix(`${h.prefix}-ivcopy`)).toEqual({ containers: [], networks: [], volumes: [] });
    expect(await h.adminQuery("SELECT kind FROM admin_allocations WHERE customer_id = 'ivcopy'")).toEqual([]);
    expect((await h.adminQuery("SELECT status FROM admin_customers WHERE id = 'ivcopy'"))[0]).toEqual({ status: 'deprovisioned' });
    expect(await h.adminQuery("SELECT state FROM admin_operations WHERE customer_id = 'ivcopy' ORDER BY id")).toEqual([{ state: 'undone' }]);
  }, 300_000);

  it('then restored for real: the backup\'s data, its own passwords', async () => {
    const r = await h.cli(['restore', live, '--from', backup, '--as', 'ivcopy', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ mode: 'new', outcome: 'provisioned-and-restored' });
    expect(await fingerprint(h, 'ivcopy')).toBe(backedUp);
    await expectClean(h, 'ivcopy');
  }, 300_000);
});
