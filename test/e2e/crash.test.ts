// Crash safety: `kill -9` of tenantctl at each step of a provision or a deprovision, then the same
// command again, converges: active (or deprovisioned), nothing orphaned, no kept data lost. The
// steps are reached deterministically through TENANTCTL_PAUSE_AT (the run writes a file and waits),
// never with sleeps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';
import { startPausedAt, type PausedRun } from './pause.js';

let h: Harness;

beforeAll(async () => {
  h = await createHarness('crash');
  await h.cli(['list']); // the admin database, started once
}, 120_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

/** kill -9 while it waits at its step; the pause file goes only afterwards (removing it means "go on"). */
async function killHard(run: PausedRun): Promise<void> {
  run.child.kill('SIGKILL');
  const result = await run.child;
  expect(result.signal).toBe('SIGKILL');
  run.resume();
}

const startPaused = (args: string[], step: string) => startPausedAt(h, [...args, '--quiet'], step);

/** What the registry and Docker hold for one tenant. */
async function footprint(id: string) {
  const objects = await dockerObjectsWithPrefix(`${h.prefix}-${id}`);
  const allocations = await h.adminQuery('SELECT kind, count(*)::int AS n FROM admin_allocations WHERE customer_id = $1 GROUP BY kind ORDER BY kind', [id]);
  const [row] = await h.adminQuery('SELECT status, kept_data FROM admin_customers WHERE id = $1', [id]);
  return { objects, allocations, row };
}

async function expectActiveAndWhole(id: string) {
  const result = await h.cli(['provision', id, '--json']);
  expect(result.exitCode, result.why).toBe(0);
  const tenant = result.json();
  const health = await fetch(`${tenant.url}/api/health`);
  expect(health.status).toBe(200);
  const { objects, allocations, row } = await footprint(id);
  expect(row).toMatchObject({ status: 'active' });
  expect(objects.containers).toHaveLength(4); // no orphan of the killed run beside the new stack
  expect(objects.networks).toHaveLength(1);
  expect(objects.volumes).toHaveLength(2);
  expect(allocations).toEqual([{ kind: 'port', n: 3 }, { kind: 'subnet', n: 1 }]);
  return tenant;
}

async function expectGone(id: string) {
  const { objects, allocations, row } = await footprint(id);
  expect(row).toMatchObject({ status: 'deprovisioned' });
  expect(objects).toEqual({ containers: [], networks: [], volumes: [] });
  expect(allocations).toEqual([]);
  expect(existsSync(path.join(h.customersDir, id))).toBe(false);
}

const provisionSteps = ['provision:locked', 'provision:reserved', 'provision:compose-up', 'provision:waiting', 'provision:schema', 'provision:activating'];

describe('kill -9 during provision, then provision again', () => {
  it.each(provisionSteps.map((step, i) => [step, `p${i}`]))('at %s: the rerun converges to one active, whole tenant', async (step, id) => {
    await killHard(await startPaused(['provision', id], step));
    await expectActiveAndWhole(id);
  }, 300_000);
});

describe('kill -9 during deprovision, then deprovision again', () => {
  it.each([['deprovision:removing', 'd0'], ['deprovision:removed', 'd1']])('at %s: the rerun leaves nothing', async (step, id) => {
    await expectActiveAndWhole(id);
    await killHard(await startPaused(['deprovision', id, '--yes'], step));
    const again = await h.cli(['deprovision', id, '--yes', '--json']);
    expect(again.exitCode, again.why).toBe(0);
    await expectGone(id);
  }, 300_000);
});

describe('kill -9 with kept data', () => {
  async function writeRow(tenant: any, value: string) {
    const password = readFileSync(path.join(h.customersDir, tenant.id, 'secrets', 'DB_PASSWORD'), 'utf8');
    const client = new pg.Client({ host: '127.0.0.1', port: tenant.ports.db, user: 'tenant_owner', password, database: 'tenant' });
    await client.connect();
    try {
      await client.query('CREATE TABLE IF NOT EXISTS crash_probe (value text)');
      if (value) await client.query('INSERT INTO crash_probe VALUES ($1)', [value]);
      return (await client.query('SELECT value FROM crash_probe ORDER BY value')).rows.map((r) => r.value);
    } finally {
      await client.end();
    }
  }

  it('keeps the data through a killed deprovision --keep-data and a killed provision that brings it back', async () => {
    const id = 'kept';
    const tenant = await expectActiveAndWhole(id);
    expect(await writeRow(tenant, 'before the crashes')).toEqual(['before the crashes']);

    await killHard(await startPaused(['deprovision', id, '--yes', '--keep-data'], 'deprovision:removed'));
    expect((await footprint(id)).row).toMatchObject({ status: 'deprovisioning', kept_data: true });

    await killHard(await startPaused(['provision', id], 'provision:waiting'));
    const back = await expectActiveAndWhole(id);
    expect(await writeRow(back, '')).toEqual(['before the crashes']);
  }, 300_000);
});
