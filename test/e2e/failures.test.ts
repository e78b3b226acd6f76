// What goes wrong, end to end: bad input is refused before anything exists; a stack that never
// becomes healthy, or a Ctrl-C, is rolled back completely and recorded as failed; a failed tenant
// can then be provisioned from clean.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import net from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { cliPath, createHarness, dockerObjectsWithPrefix, whyOf, type CliResult, type Harness } from './harness.js';

let h: Harness;
const nothing = { containers: [], networks: [], volumes: [] };

beforeAll(async () => {
  h = await createHarness('fail');
}, 60_000);

afterAll(async () => {
  await h?.cleanup();
}, 120_000);

const tenantDirs = () => (existsSync(h.customersDir) ? readdirSync(h.customersDir) : []);
const brokenApp = { TENANTCTL_APP_IMAGE: 'tenantctl/node:bookworm', TENANTCTL_HEALTH_DEADLINE: '60' };

describe('bad input is refused with exit 2 before anything is created', () => {
  // Each refusal is checked on its own: no tenant files and no Docker object of this file's prefix,
  // not even the admin database (these run first in the file, before anything starts it).
  afterEach(async () => {
    expect(tenantDirs()).toEqual([]);
    expect(await dockerObjectsWithPrefix(h.prefix)).toEqual(nothing);
  });

  it.each([['ACME'], ['../x'], ['a;b'], ['a b'], [''], ['a'.repeat(64)], ['admin'], ['-rf']])('tenant id %j', async (id) => {
    const result = await h.cli(['provision', id, '--name', 'X']);
    expect(result.exitCode, result.why).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(id.startsWith('-') ? 2 : 1);
    expect(result.stdout).toBe('');
  });

  it('reports the error as a JSON document with --json', async () => {
    const result = await h.cli(['provision', 'Bad_Id', '--json']);
    expect(result.exitCode, result.why).toBe(2);
    expect(result.json().error).toMatchObject({ code: 'usage', exitCode: 2, message: expect.stringContaining('tenant id "Bad_Id"') });
  });

  it('refuses names with control characters, unknown plans and bad ports', async () => {
    expect((await h.cli(['provision', 'acme', '--name', 'two\nlines'])).exitCode).toBe(2);
    expect((await h.cli(['provision', 'acme', '--plan', 'gold'])).exitCode).toBe(2);
    expect((await h.cli(['provision', 'acme', '--port', '80'])).stderr).toMatch(/--port "80": must be 1024 or higher/);
  });

  it('reports every config problem as path: message', async () => {
    // The bad port range comes from the environment: in test lanes (lanes.ts) TENANTCTL_DB_PORTS
    // is always set, and it overrides a file's ports.db.
    writeFileSync(path.join(h.dir, 'broken.yaml'), 'subnets: { prefixLength: 40 }\n');
    const result = await h.cli(['provision', 'acme', '--config', 'broken.yaml'], { env: { TENANTCTL_BIND_ADDRESS: 'everywhere', TENANTCTL_DB_PORTS: '10-5' } });
    expect(result.exitCode, result.why).toBe(2);
    expect(result.stderr).toMatch(/^  subnets\.prefixLength: /m);
    expect(result.stderr).toMatch(/^  ports\.db \(TENANTCTL_DB_PORTS\): from must not be greater than to/m);
    expect(result.stderr).toMatch(/^  bindAddress \(TENANTCTL_BIND_ADDRESS\): /m);
  });
});

describe('--dry-run', () => {
  it('prints the plan and the rendered file and touches neither Docker nor the registry', async () => {
    const result = await h.cli(['provision', 'acme', '--name', 'ACME Corp', '--dry-run']);
    expect(result.exitCode, result.why).toBe(0);
    expect(result.stdout).toContain('dry run');
    expect(result.stdout).toContain('tenantctl.tenant: "acme"');
    expect(result.stdout).toContain('POSTGRES_PASSWORD_FILE: /run/secrets/DB_PASSWORD');
    expect(tenantDirs()).toEqual([]);
    expect(await dockerObjectsWithPrefix(h.prefix)).toEqual(nothing);
  });
});

describe('a taken --port', () => {
  it('is refused with exit 5 and no registry row, file or container', async () => {
    const blocker = net.createServer();
    const port: number = await new Promise((resolve) => blocker.listen(0, () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      const result = await h.cli(['provision', 'umbrella', '--port', String(port), '--json']);
      expect(result.exitCode, result.why).toBe(5);
      expect(result.json().error.message).toBe(`app port: port ${port} is already in use on this host`);
    } finally {
      blocker.close();
    }
    expect(await h.adminQuery(`SELECT id FROM admin_customers WHERE id = 'umbrella'`)).toEqual([]);
    expect(tenantDirs()).not.toContain('umbrella');
    expect(await dockerObjectsWithPrefix(`${h.prefix}-umbrella`)).toEqual(nothing);
  }, 120_000);
});

describe('a stack that never becomes healthy', () => {
  // The failed attempt both tests start from: an image whose command exits at once, so the app never
  // becomes ready. The hook only runs it; the first test judges it.
  let failed: CliResult;
  beforeAll(async () => {
    failed = await h.cli(['provision', 'acme', '--json'], { env: brokenApp });
  }, 240_000);

  it('is rolled back, recorded as failed with the reason, and its allocations released', async () => {
    const result = failed;
    expect(result.exitCode, result.why).toBe(7);
    const error = result.json().error;
    expect(error.message).toMatch(/^service (app|worker) /);
    expect(error.details).toContain('rolled back: nothing of this run is left');
    expect(await dockerObjectsWithPrefix(`${h.prefix}-acme`)).toEqual(nothing);
    expect(tenantDirs()).toEqual([]);
    const [row] = await h.adminQuery(`SELECT status, status_reason FROM admin_customers WHERE id = 'acme'`);
    expect(row.status).toBe('failed');
    expect(row.status_reason).toBe(error.message);
    expect(await h.adminQuery(`SELECT * FROM admin_allocations WHERE customer_id = 'acme'`)).toEqual([]);
  }, 240_000);

  it('can then be provisioned from clean; --keep-data keeps its data and passwords, even through a failed provision', async () => {
    const result = await h.cli(['provision', 'acme', '--json']);
    expect(result.exitCode, result.why).toBe(0);
    expect(result.json().outcome).toBe('active');
    const marker = async (sql: string) => {
      const password = readFileSync(path.join(h.customersDir, 'acme', 'secrets', 'DB_PASSWORD'), 'utf8');
      const port = (await h.adminQuery(`SELECT db_port FROM admin_customers WHERE id = 'acme'`))[0].db_port;
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'tenant_owner', password, database: 'tenant' });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    };
    await marker(`INSERT INTO crm.organizations (name, slug) VALUES ('kept across deprovision', 'kept')`);

    const kept = await h.cli(['deprovision', 'acme', '--yes', '--keep-data', '--json']);
    expect(kept.exitCode, kept.why).toBe(0);
    expect(kept.json()).toMatchObject({ outcome: 'deprovisioned', keptData: true, removed: { containers: 4, networks: 1 } });
    const left = await dockerObjectsWithPrefix(`${h.prefix}-acme`);
    expect(left.containers).toEqual([]);
    expect(left.networks).toEqual([]);
    expect(left.volumes).toHaveLength(2);
    expect(tenantDirs()).toEqual(['acme']);

    // A failed attempt to bring kept data back must not destroy it.
    const broken = await h.cli(['provision', 'acme', '--json'], { env: brokenApp });
    expect(broken.exitCode, broken.why).toBe(7);
    const afterFailure = await dockerObjectsWithPrefix(`${h.prefix}-acme`);
    expect(afterFailure.containers).toEqual([]);
    expect(afterFailure.volumes).toHaveLength(2);
    expect(tenantDirs()).toEqual(['acme']);

    const back = await h.cli(['provision', 'acme', '--json']);
    expect(back.exitCode, back.why).toBe(0);
    expect(await marker(`SELECT name FROM crm.organizations`)).toEqual([{ name: 'kept across deprovision' }]);

    const down = await h.cli(['deprovision', 'acme', '--yes', '--json']);
    expect(down.exitCode, down.why).toBe(0);
    expect(await dockerObjectsWithPrefix(`${h.prefix}-acme`)).toEqual(nothing);
    expect(tenantDirs()).toEqual([]);
  }, 420_000);
});

describe('Ctrl-C during provision', () => {
  it('rolls back, exits 130 and leaves nothing', async () => {
    const child = execa('node', [cliPath, 'provision', 'initech'], { cwd: h.dir, env: h.env, reject: false, timeout: 240_000 });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('waiting until every service is healthy') || stderr.includes('docker-compose up') || stderr.includes('docker compose up')) resolve();
      });
    });
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode, whyOf('tenantctl provision initech (SIGINT)', result.exitCode ?? -1, String(result.stdout), String(result.stderr))).toBe(130);
    expect(String(result.stderr)).toMatch(/interrupted: rolling back/);
    expect(await dockerObjectsWithPrefix(`${h.prefix}-initech`)).toEqual(nothing);
    expect(tenantDirs()).toEqual([]);
    const [row] = await h.adminQuery(`SELECT status FROM admin_customers WHERE id = 'initech'`);
    expect(row.status).toBe('failed');
  }, 240_000);
});
