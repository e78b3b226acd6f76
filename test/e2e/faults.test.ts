// Faults from outside, each with a one-line error, its documented exit code, and the registry and
// the host left consistent (and a rerun that converges): the Docker engine gone before and during a
// provision, the admin database gone during a provision and a deprovision, customers/ unusable, a
// template compose rejects, SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { dockerProxy, type DockerProxy } from './docker-proxy.js';
import { AdminDb, lockSpaces } from '../../src/admin-db/database.js';
import { inOwnLockScope } from '../../src/common/lock-scope.js';
import { setTimeout as sleep } from 'node:timers/promises';

let h: Harness;
let engine: DockerProxy;
const root = path.resolve(import.meta.dirname, '..', '..');

beforeAll(async () => {
  // Two seconds of patience with an admin database that does not answer, not thirty: these tests stop it on purpose.
  h = await createHarness('faults', { TENANTCTL_ADMIN_DB_PATIENCE: '2' });
  await h.cli(['list']);
  engine = dockerProxy(path.join(h.dir, 'docker.sock'));
  await engine.start();
}, 120_000);

afterAll(async () => {
  await engine?.stop();
  await h?.cleanup();
}, 300_000);

const rowOf = async (id: string) => (await h.adminQuery('SELECT status, status_reason FROM admin_customers WHERE id = $1', [id]))[0];
const allocationsOf = async (id: string) => h.adminQuery('SELECT kind, value FROM admin_allocations WHERE customer_id = $1', [id]);
const adminContainer = () => `${h.prefix}-admin`;

async function adminDb(action: 'stop' | 'start') {
  const { stdout } = await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${adminContainer()}`]);
  await execa('docker', [action, ...stdout.split('\n').filter(Boolean)]);
  if (action === 'start') {
    for (let i = 0; i < 100; i++) {
      if ((await h.cli(['list', '--json'])).exitCode === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    throw new Error('the admin database did not come back');
  }
}

async function expectProvisionConverges(id: string) {
  const again = await h.cli(['provision', id, '--json']);
  expect(again.exitCode, again.why).toBe(0);
  expect((await fetch(`${again.json().url}/api/health`)).status).toBe(200);
  const objects = await dockerObjectsWithPrefix(`${h.prefix}-${id}`);
  expect(objects.containers).toHaveLength(4);
  expect(await allocationsOf(id)).toHaveLength(4);
}

describe('the Docker engine', () => {
  it('unreachable before a provision: exit 6 naming it, nothing recorded or written', async () => {
    const result = await h.cli(['provision', 'noengine'], { env: { DOCKER_HOST: `unix://${path.join(h.dir, 'no-engine.sock')}` } });
    expect(result.exitCode, result.why).toBe(6);
    expect(result.why).toMatch(/Docker engine is not reachable/);
    expect(await rowOf('noengine')).toBeUndefined();
    expect(existsSync(path.join(h.customersDir, 'noengine'))).toBe(false);
  }, 120_000);

  it('gone during a provision: exit 6, recorded as failed with its ports still held; once back, a rerun converges', async () => {
    const env = { DOCKER_HOST: engine.url };
    const run = await startPausedAt(h, ['provision', 'midway'], 'provision:waiting', env);
    await engine.stop();
    run.resume();
    const result = await run.child;
    const stderr = String(result.stderr);
    expect(result.exitCode, stderr).toBe(6);
    expect(stderr).toMatch(/Docker engine is not reachable/);
    expect(stderr).toMatch(/rollback incomplete/);
    // Its stack still runs on the engine, so its ports and subnet stay held: nobody else gets them.
    expect(await rowOf('midway')).toMatchObject({ status: 'failed', status_reason: expect.stringMatching(/not reachable/) });
    expect(await allocationsOf('midway')).toHaveLength(4);
    expect((await dockerObjectsWithPrefix(`${h.prefix}-midway`)).containers).toHaveLength(4);

    await engine.start();
    const doctor = await h.cli(['doctor', '--json'], { env });
    expect(doctor.json().findings.filter((f: any) => f.kind === 'stray-allocation')).toEqual([]);
    await expectProvisionConverges('midway');
  }, 300_000);
});

describe('the admin database', () => {
  it('gone during a provision: exit 8 with the first cause, nothing undone (its lock went with it); once back, a rerun converges', async () => {
    const run = await startPausedAt(h, ['provision', 'adminless'], 'provision:activating');
    await adminDb('stop');
    run.resume();
    const result = await run.child;
    const stderr = String(result.stderr);
    await adminDb('start');
    expect(result.exitCode, stderr).toBe(8);
    expect(stderr).toMatch(/tenantctl: admin database/);
    // Its tenant lock went with the admin database: another tenantctl could take the tenant the
    // moment the database is back, so this run undoes nothing (it could remove that one's stack).
    expect(stderr).toMatch(/nothing was rolled back \(the tenant lock on adminless was lost/);
    expect((await dockerObjectsWithPrefix(`${h.prefix}-adminless`)).containers).toHaveLength(4);
    expect(await rowOf('adminless')).toMatchObject({ status: 'provisioning' });
    const doctor = await h.cli(['doctor', '--json']);
    expect(doctor.json().findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'stuck', tenant: 'adminless' })]));
    await expectProvisionConverges('adminless');
  }, 300_000);

  it('gone during a deprovision: exit 8; once back, a rerun finishes it with nothing left', async () => {
    await expectProvisionConverges('leaving');
    const run = await startPausedAt(h, ['deprovision', 'leaving', '--yes'], 'deprovision:removed');
    await adminDb('stop');
    run.resume();
    const result = await run.child;
    const stderr = String(result.stderr);
    await adminDb('start');
    expect(result.exitCode, stderr).toBe(8);
    expect(await rowOf('leaving')).toMatchObject({ status: 'deprovisioning' });
    const again = await h.cli(['deprovision', 'leaving', '--yes', '--json']);
    expect(again.exitCode, again.why).toBe(0);
    expect(await rowOf('leaving')).toMatchObject({ status: 'deprovisioned' });
    expect(await dockerObjectsWithPrefix(`${h.prefix}-leaving`)).toEqual({ containers: [], networks: [], volumes: [] });
    expect(await allocationsOf('leaving')).toEqual([]);
  }, 300_000);
});

describe('fencing in one process', () => {
  // A batch provisions several tenants in one process: each task's fence check sees every lock the
  // process holds, and another task releasing its own lock while the check runs is not a lost lock
  // (a CI run's batch of 23 once failed two tenants that way).
  it('a lock released by another task while the check runs is not reported as lost', async () => {
    const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'admin-db.env'), 'utf8'))![1];
    const db = await AdminDb.open(`postgres://tenantctl:${password}@127.0.0.1:${h.env.TENANTCTL_ADMIN_DB_PORT!}/tenantctl_admin`, 'e2e-fencing', { maxConnections: 20 });
    try {
      for (let round = 0; round < 10; round++) {
        const releases = await Promise.all(['a', 'b', 'c', 'd'].map((name) => db.tryLock(lockSpaces.tenant, `fence-${round}-${name}`)));
        expect(releases.every(Boolean)).toBe(true);
        // The checks start while three of the four locks are being let go.
        const checks = [db.requireLocks(), db.requireLocks()];
        await Promise.all(releases.slice(1).map((release) => release!()));
        await expect(Promise.all(checks)).resolves.toBeDefined();
        await db.requireLocks();
        await releases[0]!();
      }
      // Still a real fence: a lock whose session is gone is found out.
      const release = await db.tryLock(lockSpaces.tenant, 'fence-killed');
      await h.adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext('fence-killed')::oid AND granted`);
      await expect(db.requireLocks()).rejects.toThrow(/the tenant lock on fence-killed was lost/);
      await release!();
    } finally {
      await db.close();
    }
  // Ten rounds of four session locks, each on a connection of its own (a SCRAM login apiece): 30 s
  // ran out twice on a host loaded by two test lanes.
  }, 120_000);

  // One tenant of a batch losing its lock (its connection broke) is that tenant's failure: the other
  // tasks' fence checks are about their own locks, while a check at the top still sees every lock.
  it('a lost lock stops only the task that took it', async () => {
    const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'admin-db.env'), 'utf8'))![1];
    const db = await AdminDb.open(`postgres://tenantctl:${password}@127.0.0.1:${h.env.TENANTCTL_ADMIN_DB_PORT!}/tenantctl_admin`, 'e2e-fencing', { maxConnections: 20 });
    const releases: Array<() => Promise<void>> = [];
    try {
      let lostTaken!: () => void;
      const lostLockTaken = new Promise<void>((resolve) => {
        lostTaken = resolve;
      });
      const checked: Record<string, unknown> = {};
      const task = (name: string) => inOwnLockScope(async () => {
        releases.push((await db.tryLock(lockSpaces.tenant, name))!);
        if (name === 'scope-lost') lostTaken();
        await lostLockTaken;
        // Wait until the lost lock's session is gone before checking, so both tasks see the loss.
        while ((await h.adminQuery(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext('scope-lost')::oid AND granted`)).length > 0) await sleep(50);
        checked[name] = await db.requireLocks().then(() => 'held', (error: Error) => error.message);
      });
      const both = Promise.all([task('scope-lost'), task('scope-kept')]);
      await lostLockTaken;
      await h.adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = hashtext('scope-lost')::oid AND granted`);
      await both;
      expect(checked['scope-kept']).toBe('held');
      expect(checked['scope-lost']).toMatch(/the tenant lock on scope-lost was lost/);
      await expect(db.requireLocks()).rejects.toThrow(/the tenant lock on scope-lost was lost/);
    } finally {
      for (const release of releases) await release();
      await db.close();
    }
  // The same logins as the test above (a pool, a connection per lock, pg_locks polled until the
  // terminated session is gone), on the same loaded host: the same deadline, not the default 30 s.
  }, 120_000);
});

describe('the host', () => {
  it('customers/ that cannot be written: exit 2 before anything is reserved', async () => {
    const blocker = path.join(h.dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const result = await h.cli(['provision', 'nowhere'], { env: { TENANTCTL_CUSTOMERS_DIR: path.join(blocker, 'customers') } });
    expect(result.exitCode, result.why).toBe(2);
    expect(result.why).toMatch(/customersDir .* cannot be created/);
    expect(await rowOf('nowhere')).toBeUndefined();
    expect((await dockerObjectsWithPrefix(`${h.prefix}-nowhere`)).containers).toEqual([]);
  }, 120_000);

  it('a template that renders but compose rejects: exit 6 with compose\'s reason, rolled back', async () => {
    const template = path.join(h.dir, 'bad-template.yml');
    writeFileSync(template, readFileSync(path.join(root, 'templates', 'crm', 'docker-compose.tenant.yml'), 'utf8').replaceAll('restart: unless-stopped', 'restart: sometimes'));
    const result = await h.cli(['provision', 'rejected'], { env: { TENANTCTL_TEMPLATE: template } });
    expect(result.exitCode, result.why).toBe(6);
    expect(result.why).toMatch(/compose up .* failed .*restart policy/i);
    expect(await rowOf('rejected')).toMatchObject({ status: 'failed' });
    expect(await allocationsOf('rejected')).toEqual([]);
    expect(await dockerObjectsWithPrefix(`${h.prefix}-rejected`)).toEqual({ containers: [], networks: [], volumes: [] });
  }, 120_000);

  it('SIGTERM during a provision: rolled back like Ctrl-C, exit 143', async () => {
    const run = await startPausedAt(h, ['provision', 'terminated'], 'provision:waiting');
    run.child.kill('SIGTERM');
    const result = await run.child;
    const stderr = String(result.stderr);
    run.resume();
    expect(result.exitCode, stderr).toBe(143);
    expect(stderr).toMatch(/rolled back/);
    expect(await rowOf('terminated')).toMatchObject({ status: 'failed' });
    expect(await dockerObjectsWithPrefix(`${h.prefix}-terminated`)).toEqual({ containers: [], networks: [], volumes: [] });
  }, 120_000);
});
