// The spine, end to end on the real Docker engine: two tenants provisioned at once (which also
// races two processes starting the local admin database), checked from the outside, then removed
// with nothing left behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { containerOf, createHarness, dockerExec, dockerObjectsWithPrefix, inspect, type Harness } from './harness.js';

let h: Harness;
const tenants = ['acme', 'globex'] as const;
const provisioned: Record<string, any> = {};
const outputs: string[] = [];

/** The tenant's secrets as tenantctl wrote them: customers/<id>/secrets/<NAME>, one file each. */
const envOf = (id: string) =>
  Object.fromEntries(['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'].map((name) => [name, readFileSync(path.join(h.customersDir, id, 'secrets', name), 'utf8')]));

beforeAll(async () => {
  h = await createHarness('spine');
}, 60_000);

afterAll(async () => {
  await h?.cleanup();
}, 120_000);

describe('provision and deprovision two tenants', () => {
  // Every test below works on these two tenants. If provisioning them fails, that is one failed
  // hook with the CLI's own reason, and the tests that need them are skipped (not N red lines).
  beforeAll(async () => {
    const [a, b] = await Promise.all([
      h.cli(['provision', 'acme', '--name', 'ACME Corp', '--json']),
      h.cli(['provision', 'globex', '--name', 'Globex "Intl": ${HOME} #1', '--plan', 'starter', '--json']),
    ]);
    outputs.push(a.stdout, a.stderr, b.stdout, b.stderr);
    const failed = [a, b].filter((r) => r.exitCode !== 0);
    if (failed.length > 0) throw new Error(`provisioning the two tenants failed:\n${failed.map((r) => r.why).join('\n')}`);
    provisioned.acme = a.json();
    provisioned.globex = b.json();
  }, 300_000);

  it('provisions both at once; each reports its URL, ports and subnet', () => {
    expect(provisioned.acme).toMatchObject({ id: 'acme', outcome: 'active', project: `${h.prefix}-acme` });
    expect(provisioned.globex).toMatchObject({ id: 'globex', outcome: 'active', plan: 'starter' });
    const ports = [...Object.values(provisioned.acme.ports), ...Object.values(provisioned.globex.ports)];
    expect(new Set(ports).size).toBe(6);
    expect(provisioned.acme.subnet).not.toBe(provisioned.globex.subnet);
  });

  it('brings the stacks up with compose v2 (detected; the compose-v1 file covers v1)', async () => {
    const app = await inspect(await containerOf(`${h.prefix}-acme`, 'app'));
    expect(app.Config.Labels['com.docker.compose.version']).toMatch(/^2\./);
  });

  it('runs every container hardened: capabilities dropped, no-new-privileges, read-only root, the plan\'s pids limit, non-root from the start', async () => {
    // scripts/hardening-check.mjs: 13 checks a container, 4 of them required (exit 1 when one fails).
    const { execa } = await import('execa');
    for (const [id, pids] of [['acme', 512], ['globex', 256]] as const) {
      const check = await execa('node', [path.resolve(import.meta.dirname, '../../scripts/hardening-check.mjs'), `${h.prefix}-${id}`, '--json'], { reject: false });
      const report = JSON.parse(check.stdout);
      expect(check.exitCode, check.stdout).toBe(0);
      // Every check, "a non-root user from the start" included: each service reads its own copies.
      expect(report.passing, check.stdout).toBe(52);
      for (const [service, user] of [['db', '70001:70001'], ['redis', '70002:70002'], ['app', '70003:70003'], ['worker', '70003:70003']] as const) {
        const container = await containerOf(`${h.prefix}-${id}`, service);
        const c = await inspect(container);
        expect(c.Config.User, service).toBe(user);
        // From the first process: no process of the container runs as root, tini included (Docker
        // starts the first process as the configured user; nothing could switch back to root).
        const top = await execa('docker', ['top', container, '-o', 'uid,pid,args'], { timeout: 30_000 });
        const uids = top.stdout.split('\n').slice(1).filter(Boolean).map((line) => line.trim().split(/\s+/)[0]);
        expect(uids.length, top.stdout).toBeGreaterThan(0);
        expect(new Set(uids), `${service}: ${top.stdout}`).toEqual(new Set([user.split(':')[0]]));
        expect(c.HostConfig.CapAdd ?? [], service).toEqual([]);
        expect(c.HostConfig.CapDrop).toEqual(['ALL']);
        expect(c.HostConfig.SecurityOpt).toContain('no-new-privileges:true');
        expect(c.HostConfig.ReadonlyRootfs).toBe(true);
        expect(c.HostConfig.PidsLimit).toBe(pids);
      }
    }
  });

  it('serves each app at its URL, reaching its own database and Redis', async () => {
    for (const id of tenants) {
      const response = await fetch(`${provisioned[id].url}/api/health`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'ok', customer: id, db: 'ok', redis: 'ok' });
    }
    const root = await (await fetch(provisioned.globex.url)).json();
    expect(root.name).toBe('Globex "Intl": ${HOME} #1'); // compose did not interpolate the name
  });

  it('writes the tenant files with the secrets private and out of the compose file and output', async () => {
    for (const id of tenants) {
      const dir = path.join(h.customersDir, id);
      expect(statSync(path.join(dir, '.env')).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(dir, 'secrets')).mode & 0o777).toBe(0o700);
      for (const name of ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET']) expect(statSync(path.join(dir, 'secrets', name)).mode & 0o777).toBe(0o600);
      const secrets = Object.values(envOf(id));
      expect(secrets.length).toBe(4);
      const compose = readFileSync(path.join(dir, 'docker-compose.yml'), 'utf8');
      const manifest = readFileSync(path.join(dir, 'CUSTOMER_MANIFEST.md'), 'utf8');
      expect(manifest).toContain(provisioned[id].url);
      for (const secret of secrets) {
        expect(compose).not.toContain(secret);
        expect(manifest).not.toContain(secret);
        for (const output of outputs) expect(output).not.toContain(secret);
      }
    }
  });

  it('applies the tenant schema once, and the app role is neither superuser nor owner', async () => {
    for (const id of tenants) {
      const env = envOf(id);
      const owner = new pg.Client({ host: '127.0.0.1', port: provisioned[id].ports.db, user: 'tenant_owner', password: env.DB_PASSWORD, database: 'tenant' });
      await owner.connect();
      try {
        const tables = await owner.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'crm' AND rowsecurity ORDER BY 1`);
        expect(tables.rows.map((r) => r.tablename)).toEqual(['activities', 'contacts', 'deals', 'organizations', 'tasks', 'users']);
        const migrations = await owner.query('SELECT name, checksum FROM tenant_schema_migrations');
        expect(migrations.rows).toHaveLength(1);
        const role = await owner.query(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'tenant_app'`);
        expect(role.rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
        const owned = await owner.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tableowner = 'tenant_app'`);
        expect(owned.rows[0].n).toBe(0);
      } finally {
        await owner.end();
      }
    }
  });

  it('records both tenants, their allocations and an audit trail in the admin database', async () => {
    const rows = await h.adminQuery(`SELECT id, status, app_port, db_port, redis_port, subnet::text AS subnet, compose_project FROM admin_customers ORDER BY id`);
    expect(rows).toEqual(
      tenants.map((id) => ({
        id, status: 'active', app_port: provisioned[id].ports.app, db_port: provisioned[id].ports.db, redis_port: provisioned[id].ports.redis,
        subnet: provisioned[id].subnet, compose_project: `${h.prefix}-${id}`,
      })),
    );
    const allocations = await h.adminQuery(`SELECT customer_id, count(*)::int AS n FROM admin_allocations GROUP BY 1 ORDER BY 1`);
    expect(allocations).toEqual([{ customer_id: 'acme', n: 4 }, { customer_id: 'globex', n: 4 }]);
    const audit = await h.adminQuery(`SELECT action, actor FROM admin_audit_logs WHERE customer_id = 'acme' ORDER BY id`);
    const actions = audit.map((a) => a.action);
    expect(actions[0]).toBe('provision.started');
    expect(actions.at(-1)).toBe('provision.completed');
    expect(actions).toEqual(expect.arrayContaining(['allocation.reserved', 'secrets.stored']));
    expect(audit[0].actor).toBe('e2e-spine');
  });

  it("keeps tenants apart: acme's app cannot reach globex's database, but reaches its own", async () => {
    const acmeApp = await containerOf(`${h.prefix}-acme`, 'app');
    const globexDb = await inspect(await containerOf(`${h.prefix}-globex`, 'db'));
    const globexDbIp = Object.values(globexDb.NetworkSettings.Networks as Record<string, { IPAddress: string }>)[0]!.IPAddress;
    const acmeNetwork = Object.values((await inspect(acmeApp)).NetworkSettings.Networks as Record<string, { Gateway: string }>)[0]!;
    const probe = (host: string, port: number) =>
      dockerExec(acmeApp, ['node', '-e', `const s=require('net').connect(${port},${JSON.stringify(host)});s.setTimeout(2000);s.on('connect',()=>{console.log('open');process.exit(0)});s.on('timeout',()=>{console.log('timeout');process.exit(1)});s.on('error',e=>{console.log(e.code);process.exit(1)})`]);

    const own = await probe('db', 5432);
    expect(own.stdout).toBe('open'); // the probe can see an open port, so the refusals below mean something
    const direct = await probe(globexDbIp, 5432);
    expect(direct.stdout).not.toBe('open');
    const viaHost = await probe(acmeNetwork.Gateway, provisioned.globex.ports.db);
    expect(viaHost.stdout).not.toBe('open');
  });

  it('lists and shows status, and a second provision of an active tenant changes nothing', async () => {
    const list = await h.cli(['list', '--json']);
    expect(list.exitCode, list.why).toBe(0);
    expect(list.json().map((t: any) => [t.id, t.status])).toEqual([['acme', 'active'], ['globex', 'active']]);

    const status = await h.cli(['status', 'acme', '--json']);
    expect(status.exitCode, status.why).toBe(0);
    expect(status.json().live).toBe('running');
    // Docker's own health checks run every 30 s now (tenantctl's probes decided readiness), so a
    // just-provisioned service may still be "starting" in Docker's eyes; never unhealthy.
    expect(status.json().services.map((s: any) => `${s.service}:${s.state}:${s.health === 'starting' ? 'healthy' : s.health}`)).toEqual([
      'app:running:healthy', 'db:running:healthy', 'redis:running:healthy', 'worker:running:healthy',
    ]);

    const again = await h.cli(['provision', 'acme', '--json']);
    expect(again.exitCode, again.why).toBe(0);
    expect(again.json()).toMatchObject({ outcome: 'already-active', ports: provisioned.acme.ports });
  });

  it('refuses to deprovision without --yes when there is no terminal', async () => {
    const refused = await h.cli(['deprovision', 'acme']);
    expect(refused.exitCode, refused.why).toBe(4);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/--yes/);
    expect((await h.cli(['status', 'acme', '--json'])).json().live).toBe('running');
  });

  it('deprovisions both and leaves no container, network, volume, file or allocation', async () => {
    for (const id of tenants) {
      const result = await h.cli(['deprovision', id, '--yes', '--json']);
      expect(result.exitCode, result.why).toBe(0);
      expect(result.json()).toMatchObject({ id, outcome: 'deprovisioned', keptData: false, removed: { containers: 4, networks: 1, volumes: 2 } });
    }
    expect(await dockerObjectsWithPrefix(`${h.prefix}-acme`)).toEqual({ containers: [], networks: [], volumes: [] });
    expect(await dockerObjectsWithPrefix(`${h.prefix}-globex`)).toEqual({ containers: [], networks: [], volumes: [] });
    for (const id of tenants) expect(existsSync(path.join(h.customersDir, id))).toBe(false);
    expect(await h.adminQuery('SELECT * FROM admin_allocations')).toEqual([]);
    const rows = await h.adminQuery(`SELECT id, status FROM admin_customers ORDER BY id`);
    expect(rows).toEqual([{ id: 'acme', status: 'deprovisioned' }, { id: 'globex', status: 'deprovisioned' }]);
    const list = await h.cli(['list', '--json']);
    expect(list.json()).toEqual([]);
  }, 120_000);
});

describe('an unknown tenant', () => {
  it('says so for an unknown tenant (exit 3)', async () => {
    const result = await h.cli(['deprovision', 'initech', '--yes', '--json']);
    expect(result.exitCode, result.why).toBe(3);
    expect(result.json().error).toMatchObject({ code: 'notFound', exitCode: 3 });
    expect((await h.cli(['status', 'initech'])).exitCode).toBe(3);
  }, 120_000); // may be the command that starts this file's admin database
});
