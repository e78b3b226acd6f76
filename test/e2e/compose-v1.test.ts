// The compose v1 path for real: with TENANTCTL_COMPOSE=v1 tenantctl drives docker-compose 1.29 (the
// rest of the suite uses compose v2, which tenantctl detects first). One tenant provisioned,
// answering at its URL, then removed with nothing left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { containerOf, createHarness, dockerObjectsWithPrefix, inspect, type Harness } from './harness.js';

let h: Harness;
let provisioned: any;

beforeAll(async () => {
  h = await createHarness('composev1', { TENANTCTL_COMPOSE: 'v1' });
}, 60_000);

afterAll(async () => {
  await h?.cleanup();
}, 120_000);

describe('a tenant through docker-compose 1.29 (TENANTCTL_COMPOSE=v1)', () => {
  beforeAll(async () => {
    const result = await h.cli(['provision', 'acme', '--name', 'ACME on v1', '--json']);
    if (result.exitCode !== 0) throw new Error(`provisioning acme with compose v1 failed:\n${result.why}`);
    provisioned = result.json();
  }, 300_000);

  it('is provisioned by compose v1 and answers /api/health at its URL', async () => {
    expect(provisioned).toMatchObject({ id: 'acme', outcome: 'active', project: `${h.prefix}-acme` });
    const app = await inspect(await containerOf(`${h.prefix}-acme`, 'app'));
    expect(app.Config.Labels['com.docker.compose.version']).toMatch(/^1\./);
    const response = await fetch(`${provisioned.url}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', customer: 'acme', db: 'ok', redis: 'ok' });
  });

  it('deprovisions it with nothing left', async () => {
    const result = await h.cli(['deprovision', 'acme', '--yes', '--json']);
    expect(result.exitCode, result.why).toBe(0);
    expect(result.json()).toMatchObject({ id: 'acme', outcome: 'deprovisioned', removed: { containers: 4, networks: 1, volumes: 2 } });
    expect(await dockerObjectsWithPrefix(`${h.prefix}-acme`)).toEqual({ containers: [], networks: [], volumes: [] });
    expect(existsSync(path.join(h.customersDir, 'acme'))).toBe(false);
    expect(await h.adminQuery('SELECT * FROM admin_allocations')).toEqual([]);
  }, 120_000);
});
