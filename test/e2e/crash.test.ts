// Crash safety: `kill -9` of tenantctl at each step of a provision or a deprovision, then the same
// command again, converges: active (or deprovisioned), nothing orphaned, no kept data lost. The
// steps are reached deterministically through TENANTCTL_PAUSE_AT (the run writes a file and waits),
// never with sleeps; the moments inside `compose up`, through an engine that stalls on a chosen
// request (slow-engine.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { execa } from 'execa';
import { cliPath, createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';
import { startPausedAt, type PausedRun } from './pause.js';
import { slowEngine, type SlowEngine } from './slow-engine.js';

let h: Harness;
let busyEngine: SlowEngine;

beforeAll(async () => {
  h = await createHarness('crash');
  await h.cli(['list']); // the admin database, started once
  busyEngine = slowEngine(path.join(h.dir, 'busy-docker.sock'));
  await busyEngine.start();
}, 120_000);

afterAll(async () => {
  await busyEngine?.stop();
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

// Each of these tests has a tenant of its own (p0-p5, d0, d1), so they run at once: the kill and
// the rerun of one do not touch another's objects, rows or pause file (one per step). The compose
// stall test below stays alone: its moments are measured in milliseconds.
describe.concurrent('kill -9 during provision, then provision again', () => {
  it.each(provisionSteps.map((step, i) => [step, `p${i}`]))('at %s: the rerun converges to one active, whole tenant', async (step, id) => {
    await killHard(await startPaused(['provision', id], step));
    await expectActiveAndWhole(id);
  }, 300_000);
});

describe.concurrent('kill -9 during deprovision, then deprovision again', () => {
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

describe('kill -9 while compose is still creating the stack, then provision again at once', () => {
  // At which of compose's changing requests (1: the network, 2-3: the volumes, 4-7: creating the
  // containers, two at a time, 8-11: starting them) the engine stalls when tenantctl dies, and for
  // how long. What compose had asked for then is carried out when the stall ends: in the middle of
  // the rerun's cleanup (about 0.4 s after the kill) or of its own compose up (about 1 s after),
  // unless the rerun waits for the compose tenantctl left behind to end first. Most are creates:
  // a container created behind the rerun's back is what breaks it.
  const kills = [[1, 900], [3, 1_200], [4, 600], [4, 900], [5, 800], [6, 700], [6, 1_200], [7, 800], [7, 1_100], [9, 700]] as const;

  it(`each of ${kills.length} reruns ends with one active, whole tenant`, async () => {
    const id = 'midup';
    const failures: string[] = [];
    for (const [nth, stallMs] of kills) {
      const held = busyEngine.stallAt(nth, stallMs);
      const child = execa('node', [cliPath, 'provision', id, '--quiet'], { cwd: h.dir, env: { ...h.env, DOCKER_HOST: busyEngine.url }, reject: false, stdin: 'ignore' });
      const ended = child.then((r) => `ended (exit ${r.exitCode}) before compose sent request ${nth}: ${String(r.stderr).slice(-300)}`);
      const request = await Promise.race([held, ended]);
      if (request.startsWith('ended')) throw new Error(request);
      child.kill('SIGKILL');
      expect((await child).signal).toBe('SIGKILL');

      const again = await h.cli(['provision', id, '--json']);
      const { objects, allocations, row } = await footprint(id);
      const whole = objects.containers.length === 4 && objects.networks.length === 1 && objects.volumes.length === 2 && row?.status === 'active'
        && JSON.stringify(allocations) === JSON.stringify([{ kind: 'port', n: 3 }, { kind: 'subnet', n: 1 }]);
      if (again.exitCode !== 0 || !whole) {
        failures.push(`killed while the engine held ${request} for ${stallMs} ms: ${again.why.replace(/\n/g, ' | ')}; then ${objects.containers.length} containers, ${objects.networks.length} networks, ${objects.volumes.length} volumes, status ${row?.status}`);
      }
      // Each round starts from nothing (a failed rerun's leftovers go with a second deprovision).
      const gone = await h.cli(['deprovision', id, '--yes', '--quiet']);
      if (gone.exitCode !== 0) await h.cli(['deprovision', id, '--yes', '--quiet']);
    }
    expect(failures, `${failures.length} of ${kills.length} reruns failed`).toEqual([]);
  }, 300_000);
});
