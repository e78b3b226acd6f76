// Growth on one host: ten `tenantctl provision` processes started at once never share a port or a
// subnet, and forty tenants run on a Docker daemon with default settings (whose default address
// pools stop at about 30 networks), then all go away. A template without the app keeps this fast.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { containerOf, createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';

let h: Harness;
// The fixture has no app and no container health checks (see its header): forty stacks fit in CI.
const lite = {
  TENANTCTL_TEMPLATE: path.resolve(import.meta.dirname, '..', 'fixtures', 'template-db-redis.yml'),
  TENANTCTL_HEALTH_DEADLINE: '300',
};
const firstTen = Array.from({ length: 10 }, (_, i) => `conc${i}`);
const nextThirty = Array.from({ length: 30 }, (_, i) => `bulk${i}`);

beforeAll(async () => {
  h = await createHarness('scale');
  await h.cli(['list'], { env: lite }); // start the admin database once, outside the race below
}, 120_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

describe('many tenants on one host', () => {
  it('10 provision processes at once: 10 active tenants with distinct ports and subnets', async () => {
    const results = await Promise.all(firstTen.map((id) => h.cli(['provision', id, '--json', '--quiet'], { env: lite, timeoutMs: 600_000 })));
    results.forEach((r, i) => expect(r.exitCode, `${firstTen[i]}: ${r.stdout}`).toBe(0));
    const tenants = results.map((r) => r.json());
    const ports = tenants.flatMap((t) => [t.ports.app, t.ports.db, t.ports.redis]);
    expect(new Set(ports).size).toBe(30);
    expect(new Set(tenants.map((t) => t.subnet)).size).toBe(10);
    const rows = await h.adminQuery(`SELECT count(*)::int AS n FROM admin_customers WHERE status = 'active'`);
    expect(rows[0].n).toBe(10);
    const allocations = await h.adminQuery(`SELECT kind, count(*)::int AS n FROM admin_allocations GROUP BY kind ORDER BY kind`);
    expect(allocations).toEqual([{ kind: 'port', n: 30 }, { kind: 'subnet', n: 10 }]);
  }, 600_000);

  it('a batch from --file brings the host to 40 tenants, reports a failed one, and the rest stand (exit 9)', async () => {
    const blocker = net.createServer();
    const taken: number = await new Promise((resolve) => blocker.listen(0, () => resolve((blocker.address() as net.AddressInfo).port)));
    const file = path.join(h.dir, 'tenants.yaml');
    writeFileSync(file, `tenants:\n${nextThirty.map((id) => `  - id: ${id}\n    name: "Bulk ${id}"\n    plan: starter`).join('\n')}\n  - id: doomed\n    port: ${taken}\n`);
    let result;
    try {
      result = await h.cli(['provision', '--file', file, '--concurrency', '4', '--json'], { env: lite, timeoutMs: 1_200_000 });
    } finally {
      blocker.close();
    }
    expect(result.exitCode, result.stderr).toBe(9);
    const batch = result.json();
    expect(batch.summary).toMatchObject({ total: 31, active: 30, failed: 1 });
    expect(batch.tenants.find((t: any) => t.id === 'doomed')).toMatchObject({ ok: false, error: { code: 'conflict', message: `app port: port ${taken} is already in use on this host` } });

    const list = await h.cli(['list', '--json'], { env: lite });
    const active = list.json().filter((t: any) => t.status === 'active');
    expect(active).toHaveLength(40);
    expect(active.every((t: any) => t.live === 'running')).toBe(true);
    expect(new Set(active.map((t: any) => t.subnet)).size).toBe(40);
    const networks = [...(await dockerObjectsWithPrefix(`${h.prefix}-conc`)).networks, ...(await dockerObjectsWithPrefix(`${h.prefix}-bulk`)).networks];
    expect(networks).toHaveLength(40); // beyond Docker's ~30 default address pools
  }, 1_200_000);

  it('shows drift: a stopped stack is listed as stopped while the registry says active', async () => {
    const redis = await containerOf(`${h.prefix}-conc0`, 'redis');
    await execa('docker', ['stop', redis], { timeout: 60_000 });
    const list = await h.cli(['list', '--json'], { env: lite });
    expect(list.json().find((t: any) => t.id === 'conc0')).toMatchObject({ status: 'active', live: 'stopped' });
    expect(list.json().find((t: any) => t.id === 'conc1')).toMatchObject({ status: 'active', live: 'running' });
  });

  it('deprovisions all 40 and leaves nothing', async () => {
    const result = await h.cli(['deprovision', ...firstTen, ...nextThirty, '--yes', '--concurrency', '6', '--json'], { env: lite, timeoutMs: 1_200_000 });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.json().summary).toMatchObject({ total: 40, deprovisioned: 40, failed: 0 });
    for (const group of ['conc', 'bulk']) {
      expect(await dockerObjectsWithPrefix(`${h.prefix}-${group}`)).toEqual({ containers: [], networks: [], volumes: [] });
    }
    expect(await h.adminQuery('SELECT * FROM admin_allocations')).toEqual([]);
  }, 1_200_000);
});
