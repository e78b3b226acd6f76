// rotate-secrets, upgrade, backup --keep and provision keep the invariants (issue 19), on real
// Docker, PostgreSQL and Redis:
// - rotate-secrets and upgrade killed (SIGKILL, SIGINT) at every step they record, then settled by
//   the next command on the tenant: the passwords that work are exactly the sealed ones (old before
//   'proven', new from it), the plan and compose file are the good ones or the new ones, the data
//   is untouched, nothing is left in flight;
// - backup --keep killed while pruning: the next command finishes what it chose, nothing else;
// - provision refuses (exit 5) objects of its project that no row accounts for (the review's
//   reproduced loss: a second registry's rollback deleted the first's volumes), and --adopt takes
//   them over with their data.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { expectClean, fingerprint, interrupt, killHard, psqlIn, writeMark } from './journal.js';

let h: Harness;

beforeAll(async () => {
  h = await createHarness('killchange', { TENANTCTL_HEALTH_DEADLINE: '120' });
  // The two tenants are independent: set up at once (the admin database is started by one of them).
  await Promise.all(['rt', 'up'].map(async (id) => {
    const r = await h.cli(['provision', id]);
    if (r.exitCode !== 0) throw new Error(r.why);
    await psqlIn(h, id, 'CREATE TABLE k (n bigint); INSERT INTO k SELECT generate_series(1, 1000)');
    await writeMark(h, id);
  }));
}, 600_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

type Secrets = Record<'DB_PASSWORD' | 'APP_DB_PASSWORD' | 'REDIS_PASSWORD' | 'JWT_SECRET', string>;

async function sealed(id: string): Promise<Secrets> {
  const r = await h.cli(['secrets', id, '--json']);
  expect(r.exitCode, r.why).toBe(0);
  return r.json().secrets;
}

/** Which of the given passwords the running servers take: tenant_owner and tenant_app logins, Redis AUTH. */
async function accepted(id: string, secrets: Secrets): Promise<Record<string, boolean>> {
  const [row] = await h.adminQuery('SELECT db_port, redis_port FROM admin_customers WHERE id = $1', [id]);
  const login = async (user: string, password: string) => {
    const client = new pg.Client({ host: '127.0.0.1', port: row.db_port, user, password, database: 'tenant', connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {}); // a refused login has nothing to end
    }
  };
  const redis = new Redis({ host: '127.0.0.1', port: row.redis_port, password: secrets.REDIS_PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {}); // a refused AUTH is the answer, not a crash
  const redisOk = await redis.connect().then(() => redis.ping()).then((pong) => pong === 'PONG', () => false);
  redis.disconnect();
  return { owner: await login('tenant_owner', secrets.DB_PASSWORD), app: await login('tenant_app', secrets.APP_DB_PASSWORD), redis: redisOk };
}

const allTaken = { owner: true, app: true, redis: true };

/** The sealed copy, the files compose hands the containers and the running servers agree: `expected` works, and it is what is sealed. */
async function expectSecretsSettled(id: string, expected: Secrets): Promise<void> {
  expect(await sealed(id)).toEqual(expected);
  for (const [name, value] of Object.entries(expected)) {
    expect(readFileSync(path.join(h.customersDir, id, 'secrets', name), 'utf8').trim(), name).toBe(value);
  }
  expect(await accepted(id, expected)).toEqual(allTaken);
}

const rotateSteps = ['begun', 'applied', 'files-written', 'recreated', 'proven'];

describe('rotate-secrets, killed at every step', () => {
  it.each(rotateSteps)('kill -9 at rotate:%s, then `restart` settles it: the old secrets back before proven, the new ones from it', async (step) => {
    const before = await sealed('rt');
    const data = await fingerprint(h, 'rt');
    await killHard(await startPausedAt(h, ['rotate-secrets', 'rt', '--quiet'], `rotate:${step}`));
    const settled = await h.cli(['restart', 'rt']);
    expect(settled.exitCode, settled.why).toBe(0);
    expect(settled.stderr).toContain(`the interrupted rotate-secrets of rt is ${step === 'proven' ? 'finished' : 'undone'}`);
    const after = await sealed('rt');
    if (step === 'proven') {
      for (const name of Object.keys(before) as Array<keyof Secrets>) expect(after[name], name).not.toBe(before[name]);
      expect((await accepted('rt', before)).owner).toBe(false);
    } else {
      expect(after).toEqual(before);
    }
    await expectSecretsSettled('rt', after);
    expect(await fingerprint(h, 'rt')).toBe(data);
    await expectClean(h, 'rt');
  }, 300_000);

  it.each(rotateSteps)('Ctrl-C at rotate:%s: exit 130, the old secrets back (committed at proven), nothing in flight', async (step) => {
    const before = await sealed('rt');
    const r = await interrupt(await startPausedAt(h, ['rotate-secrets', 'rt'], `rotate:${step}`));
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/tenantctl: interrupted while /);
    expect(r.stderr).toContain(step === 'proven' ? 'the rotation was committed' : 'the old secrets were put back everywhere and proven to work');
    const after = await sealed('rt');
    if (step === 'proven') expect(after.DB_PASSWORD).not.toBe(before.DB_PASSWORD);
    else expect(after).toEqual(before);
    await expectSecretsSettled('rt', after);
    await expectClean(h, 'rt');
  }, 300_000);
});

const upgradeSteps = ['begun', 'compose-up', 'proven'];

describe('upgrade, killed at every step', () => {
  /** The plan it is on, and one to upgrade to. */
  async function plans() {
    const [row] = await h.adminQuery('SELECT plan FROM admin_customers WHERE id = $1', ['up']);
    return { from: row.plan as string, to: row.plan === 'starter' ? 'standard' : 'starter' };
  }
  const composeFile = () => readFileSync(path.join(h.customersDir, 'up', 'docker-compose.yml'), 'utf8');
  async function lastDeployment() {
    return (await h.adminQuery('SELECT plan, compose_file, reason FROM admin_tenant_deployments WHERE customer_id = $1 ORDER BY id DESC LIMIT 1', ['up']))[0];
  }

  it.each(upgradeSteps)('kill -9 at upgrade:%s, then `start` settles it: rolled back before proven, recorded from it', async (step) => {
    const { from, to } = await plans();
    const data = await fingerprint(h, 'up');
    await killHard(await startPausedAt(h, ['upgrade', 'up', '--plan', to, '--quiet'], `upgrade:${step}`));
    const settled = await h.cli(['start', 'up']);
    expect(settled.exitCode, settled.why).toBe(0);
    expect(settled.stderr).toContain(`the interrupted upgrade of up is ${step === 'proven' ? 'finished' : 'undone'}`);
    const now = step === 'proven' ? to : from;
    expect((await plans()).from).toBe(now);
    const deployment = await lastDeployment();
    expect(deployment.plan).toBe(now);
    // What runs is what is recorded as the last good state (a rollback pins images: compare plans' limits only).
    expect(composeFile()).toContain(deployment.compose_file.match(/mem_limit: \S+/)![0]);
    expect(await fingerprint(h, 'up')).toBe(data);
    await expectClean(h, 'up');
  }, 300_000);

  it.each(upgradeSteps)('Ctrl-C at upgrade:%s: exit 130, rolled back before proven (recorded at proven), nothing in flight', async (step) => {
    const { from, to } = await plans();
    const r = await interrupt(await startPausedAt(h, ['upgrade', 'up', '--plan', to], `upgrade:${step}`));
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toContain(step === 'proven' ? 'the upgrade had been proven ready: it was recorded' : 'rolled back to the state recorded at');
    expect((await plans()).from).toBe(step === 'proven' ? to : from);
    await expectClean(h, 'up');
  }, 300_000);

  it('operations lists an interrupted one; abandon closes it without settling it (a reason required, audited)', async () => {
    const { to } = await plans();
    await killHard(await startPausedAt(h, ['upgrade', 'up', '--plan', to, '--quiet'], 'upgrade:begun'));
    const listed = await h.cli(['operations', '--json']);
    expect(listed.exitCode, listed.why).toBe(0);
    expect(listed.json().operations).toEqual([expect.objectContaining({ tenant: 'up', verb: 'upgrade', step: 'begun', state: 'running', inFlight: false })]);
    const noReason = await h.cli(['operations', 'abandon', 'up', '--json']);
    expect(noReason.exitCode, noReason.why).toBe(2);
    const abandoned = await h.cli(['operations', 'abandon', 'up', '--reason', 'testing the way out', '--json']);
    expect(abandoned.exitCode, abandoned.why).toBe(0);
    expect(await h.adminQuery("SELECT state, reason FROM admin_operations WHERE customer_id = 'up' ORDER BY id DESC LIMIT 1")).toEqual([{ state: 'failed', reason: expect.stringContaining('testing the way out') }]);
    expect(await h.adminQuery("SELECT action FROM admin_audit_logs WHERE customer_id = 'up' AND action = 'operation.abandoned'")).toHaveLength(1);
    const none = await h.cli(['operations', 'abandon', 'up', '--reason', 'again', '--json']);
    expect(none.exitCode, none.why).toBe(3);
    // Killed before it changed anything: the tenant runs as it did, and commands run again.
    await expectClean(h, 'up');
  }, 300_000);

  it('an upgrade that changes nothing still proves the tenant ready, and says unchanged', async () => {
    const { from } = await plans();
    const r = await h.cli(['upgrade', 'up', '--plan', from, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json().outcome).toBe('unchanged');
    expect(r.stderr).toContain('proving it ready');
  }, 300_000);
});

describe('backup --keep, killed while pruning', () => {
  it.each(['prune:begun', 'prune:removing'])('kill -9 at %s: the next command removes exactly the backups it chose', async (step) => {
    for (let i = 0; i < 3; i++) expect((await h.cli(['backup', 'up'])).exitCode).toBe(0);
    const before = (await h.cli(['backups', 'up', '--json'])).json().backups.map((b: any) => b.id);
    await killHard(await startPausedAt(h, ['backup', 'up', '--keep', '1', '--quiet'], step));
    const after = (await h.cli(['backups', 'up', '--json'])).json().backups;
    const newest = after[0].id;
    expect(before).not.toContain(newest);
    const settled = await h.cli(['stop', 'up']);
    expect(settled.exitCode, settled.why).toBe(0);
    expect(settled.stderr).toContain('the interrupted backup-prune of up is finished');
    expect((await h.cli(['start', 'up'])).exitCode).toBe(0);
    const kept = (await h.cli(['backups', 'up', '--json'])).json().backups;
    expect(kept.map((b: any) => b.id)).toEqual([newest]);
    for (const id of before) expect(existsSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'backups', 'up', id))).toBe(false);
    expect(await h.adminQuery("SELECT verb FROM admin_operations WHERE customer_id = 'up' AND state = 'running'")).toEqual([]);
  }, 300_000);
});

describe('backup --keep interrupted, and doctor --fix killed', () => {
  it('Ctrl-C while pruning: exit 130, and the backups it chose are removed all the same', async () => {
    for (let i = 0; i < 3; i++) expect((await h.cli(['backup', 'up'])).exitCode).toBe(0);
    const r = await interrupt(await startPausedAt(h, ['backup', 'up', '--keep', '1'], 'prune:removing'));
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/the \d+ backups chosen for removal were removed/);
    expect((await h.cli(['backups', 'up', '--json'])).json().backups).toHaveLength(1);
    expect(await h.adminQuery("SELECT verb FROM admin_operations WHERE customer_id = 'up' AND state = 'running'")).toEqual([]);
  }, 300_000);

  it('kill -9 while doctor --fix repairs: the next doctor --fix finishes that repair as it was decided', async () => {
    const [{ host }] = await h.adminQuery("SELECT host FROM admin_customers WHERE id = 'up'");
    await h.adminQuery("INSERT INTO admin_customers (id, name, plan, status, host, compose_project) VALUES ('ghost', 'ghost', 'standard', 'deprovisioned', $1, $2)", [host, `${h.prefix}-ghost`]);
    await h.adminQuery("INSERT INTO admin_allocations (host, kind, value, customer_id, purpose) VALUES ($1, 'port', '39999', 'ghost', 'app')", [host]);
    await killHard(await startPausedAt(h, ['doctor', '--fix', '--quiet'], 'doctor:repairing'));
    expect(await h.adminQuery("SELECT verb, step FROM admin_operations WHERE customer_id = 'ghost' AND state = 'running'")).toEqual([{ verb: 'doctor-fix', step: 'begun' }]);
    const again = await h.cli(['doctor', '--fix', '--json']);
    expect(again.json().findings.filter((f: any) => f.tenant === 'ghost')).toEqual([expect.objectContaining({ kind: 'interrupted-operation', fixed: true })]);
    expect(await h.adminQuery("SELECT value FROM admin_allocations WHERE customer_id = 'ghost'")).toEqual([]);
    expect(await h.adminQuery("SELECT state FROM admin_operations WHERE customer_id = 'ghost'")).toEqual([{ state: 'completed' }]);
  }, 300_000);
});

describe('what the upgrades left', () => {
  it('deprovision removes the tenant\'s rollback pins with its stack: no image tag of it is left', async () => {
    const { execa } = await import('execa');
    const pins = async () => (await execa('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=tenantctl-rollback:${h.prefix}-up-*`])).stdout.split('\n').filter(Boolean);
    expect((await pins()).length).toBeGreaterThan(0);
    const gone = await h.cli(['deprovision', 'up', '--yes']);
    expect(gone.exitCode, gone.why).toBe(0);
    expect(await pins()).toEqual([]);
  }, 300_000);
});

describe('objects of a project that no row accounts for', () => {
  it('are refused by provision (exit 5), naming them, and the other tenant keeps running with its data', async () => {
    // Another registry on the same engine: its own admin database and customers dir, the same project prefix.
    const other = await createHarness('killchange2', { TENANTCTL_PROJECT_PREFIX: h.prefix, TENANTCTL_HEALTH_DEADLINE: '60' });
    try {
      const before = await fingerprint(h, 'rt');
      const r = await other.cli(['provision', 'rt', '--json']);
      expect(r.exitCode, r.why).toBe(5);
      expect(r.json().error.message).toMatch(/already has 4 container\(s\), 1 network\(s\), volumes .*_redis-data.* of project .*-rt, but no tenant rt is on record/);
      expect(await fingerprint(h, 'rt')).toBe(before);
      await expectClean(h, 'rt');
    } finally {
      // By its own prefix: its admin database (the tenants' shared prefix is the first harness's, which it never touched).
      await other.cleanup();
    }
  }, 300_000);

  it('a row lost (an older admin database restored): refused, then --adopt takes the stack over with its data', async () => {
    const data = await fingerprint(h, 'rt');
    for (const table of ['admin_allocations', 'admin_api_keys', 'admin_customer_modules', 'admin_tenant_deployments', 'admin_operations']) {
      await h.adminQuery(`DELETE FROM ${table} WHERE customer_id = 'rt'`);
    }
    await h.adminQuery("DELETE FROM admin_audit_logs WHERE customer_id = 'rt'");
    await h.adminQuery("DELETE FROM admin_customers WHERE id = 'rt'");
    const refused = await h.cli(['provision', 'rt', '--json']);
    expect(refused.exitCode, refused.why).toBe(5);
    expect(refused.json().error.message).toContain('--adopt');
    expect((await dockerObjectsWithPrefix(`${h.prefix}-rt`)).volumes).toHaveLength(2);
    const adopted = await h.cli(['provision', 'rt', '--adopt', '--json']);
    expect(adopted.exitCode, adopted.why).toBe(0);
    expect(await fingerprint(h, 'rt')).toBe(data);
    await expectClean(h, 'rt');
  }, 300_000);
});
