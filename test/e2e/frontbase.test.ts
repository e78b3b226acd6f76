// Two stack shapes side by side on the real Docker engine (issue 12): a crm tenant and two frontbase
// tenants, one with the optional postgres profile. Each is ready by its own template's probes,
// reachable through its own published ports and the front door, isolated from the others, kept
// whole across stop and start, and removed with nothing left behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { containerOf, createHarness, dockerExec, dockerObjectsWithPrefix, inspect, useOwnFrontdoor, type Harness } from './harness.js';

let h: Harness;
const provisioned: Record<string, any> = {};
const outputs: string[] = [];
const progress: Record<string, string> = {};
// crm1: the default template; fb-plain: frontbase without profiles; fb-pg: with postgres (the id's
// '-' must become '_' in its database name).
const tenants = ['crm1', 'fb-plain', 'fb-pg'] as const;
const frontbaseServices = ['backend', 'edge', 'frontend', 'redis', 'redis-http'];

const secretOf = (id: string, name: string) => readFileSync(path.join(h.customersDir, id, 'secrets', name), 'utf8').trim();
const project = (id: string) => `${h.prefix}-${id}`;
const servicesOf = async (id: string) => {
  const status = await h.cli(['status', id, '--json']);
  expect(status.exitCode, status.why).toBe(0);
  return status.json().services.map((s: any) => s.service).sort();
};
const ipOf = async (id: string, service: string) =>
  Object.values((await inspect(await containerOf(project(id), service))).NetworkSettings.Networks as Record<string, { IPAddress: string; Gateway: string }>)[0]!;
/** A TCP connection from inside a container (python3 in the frontbase images): open, or why not. */
const connectFrom = async (container: string, host: string, port: number) =>
  (await dockerExec(container, ['python3', '-c', `import socket
s=socket.socket(); s.settimeout(2)
try:
  s.connect((${JSON.stringify(host)}, ${port})); print('open')
except Exception as e:
  print(type(e).__name__)`])).stdout.trim();

let doorPorts: { http: number; https: number };

beforeAll(async () => {
  h = await createHarness('frontbase');
  // The front door on high ports of its own (its compose project carries the harness's prefix).
  doorPorts = await useOwnFrontdoor(h);
}, 60_000);

afterAll(async () => {
  await h?.cli(['frontdoor', 'down']);
  await h?.cleanup();
}, 180_000);

/** GET through the front door over TLS (local CA), the tenant's host name resolved to loopback. */
async function throughDoor(id: string, urlPath: string, apiKey?: string): Promise<{ status: number; body: string }> {
  const host = `${id}.tenants.localhost`;
  const ca = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'tls', 'ca.crt');
  const url = `https://${host}:${doorPorts.https}${urlPath}`;
  const result = await execa('curl', ['-sS', '--max-time', '10', '--cacert', ca, '--resolve', `${host}:${doorPorts.https}:127.0.0.1`, ...(apiKey ? ['-H', `Authorization: Bearer ${apiKey}`] : []), '-w', '\n%{http_code}', url], { reject: false });
  if (result.exitCode !== 0) throw new Error(`curl ${url}: exit ${result.exitCode}: ${result.stderr}`);
  const lines = String(result.stdout).split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}

describe('a crm tenant beside two frontbase tenants', () => {
  beforeAll(async () => {
    const results = await Promise.all([
      h.cli(['provision', 'crm1', '--name', 'CRM One', '--json']),
      h.cli(['provision', 'fb-plain', '--name', 'Frontbase "Plain"', '--template', 'frontbase', '--json']),
      h.cli(['provision', 'fb-pg', '--name', 'Frontbase PG', '--template', 'frontbase', '--with', 'postgres', '--json']),
    ]);
    for (const r of results) outputs.push(r.stdout, r.stderr);
    const failed = results.filter((r) => r.exitCode !== 0);
    if (failed.length > 0) throw new Error(`provisioning the three tenants failed:\n${failed.map((r) => r.why).join('\n')}`);
    tenants.forEach((id, i) => {
      provisioned[id] = results[i]!.json();
      progress[id] = results[i]!.stderr;
    });
  }, 400_000);

  it('provisions each from its own template, with its own ports and subnet', () => {
    expect(provisioned.crm1).toMatchObject({ id: 'crm1', outcome: 'active', template: 'crm', profiles: [] });
    expect(provisioned['fb-plain']).toMatchObject({ id: 'fb-plain', outcome: 'active', template: 'frontbase', profiles: [] });
    expect(provisioned['fb-pg']).toMatchObject({ id: 'fb-pg', outcome: 'active', template: 'frontbase', profiles: ['postgres'] });
    for (const id of ['fb-plain', 'fb-pg']) {
      const ports = provisioned[id].ports;
      for (const name of ['frontend', 'backend', 'edge', 'redis', 'redis_http']) expect(ports[name], `${id} port ${name}`).toEqual(expect.any(Number));
      // The seed's overlapping ranges: each port inside its own.
      expect(ports.backend).toBeGreaterThanOrEqual(8000);
      expect(ports.frontend).toBeGreaterThanOrEqual(8080);
      expect(ports.redis_http).toBeGreaterThanOrEqual(8079);
      expect(ports.edge).toBeGreaterThanOrEqual(3002);
      expect(ports.edge).toBeLessThanOrEqual(3999);
      // The front door port is the frontend's.
      expect(provisioned[id].url).toMatch(new RegExp(`:${ports.frontend}$`));
    }
    // No host port is held twice across the three tenants, however the ranges overlap.
    const all = tenants.flatMap((id) => Object.values(provisioned[id].ports));
    expect(new Set(all).size).toBe(all.length);
    expect(new Set(tenants.map((id) => provisioned[id].subnet)).size).toBe(3);
  });

  it('waited for each service by the probe its template declares', () => {
    // wait-ready reports each service as its probe passes; postgres only where the profile is on.
    const readyServices = (id: string) => [...progress[id]!.matchAll(/^\S*\s*([a-z-]+) ready \(/gm)].map((m) => m[1]).sort();
    expect(readyServices('fb-plain')).toEqual(frontbaseServices);
    expect(readyServices('fb-pg')).toEqual([...frontbaseServices, 'postgres'].sort());
    expect(readyServices('crm1')).toEqual(['app', 'db', 'redis', 'worker']);
  });

  it('runs postgres only where the profile is on', async () => {
    expect(await servicesOf('fb-plain')).toEqual(frontbaseServices);
    expect(await servicesOf('fb-pg')).toEqual([...frontbaseServices, 'postgres'].sort());
    expect(await servicesOf('crm1')).toEqual(['app', 'db', 'redis', 'worker']);
  });

  it('runs every container hardened, each as its own non-root user from the start', async () => {
    const check = await execa('node', [path.resolve(import.meta.dirname, '../../scripts/hardening-check.mjs'), `${h.prefix}-fb-pg`, '--json'], { reject: false });
    expect(check.exitCode, check.stdout).toBe(0);
    const report = JSON.parse(check.stdout);
    // 6 containers x 13 checks, every one passing: the services with secrets mount their user's copies,
    // and no host account has a service's uid.
    expect(report.passing, check.stdout).toBe(78);
    const users = { frontend: '70007:70007', backend: '70005:70005', edge: '70006:70006', redis: '70002:70002', 'redis-http': '70004:70004', postgres: '70001:70001' };
    for (const [service, user] of Object.entries(users)) {
      const container = await containerOf(`${h.prefix}-fb-pg`, service);
      const c = await inspect(container);
      expect(c.Config.User, service).toBe(user);
      expect(c.HostConfig.CapAdd ?? [], service).toEqual([]);
      const top = await execa('docker', ['top', container, '-o', 'uid,pid,args'], { timeout: 30_000 });
      const uids = top.stdout.split('\n').slice(1).filter(Boolean).map((line) => line.trim().split(/\s+/)[0]);
      expect(uids.length, top.stdout).toBeGreaterThan(0);
      expect(new Set(uids), `${service}: ${top.stdout}`).toEqual(new Set([user.split(':')[0]]));
    }
  });

  it("answers frontbase's /health through the published frontend port, and the page's API through it", async () => {
    for (const id of ['fb-plain', 'fb-pg']) {
      const url = provisioned[id].url;
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', service: 'frontend' });
      // nginx passes /api/ to this tenant's backend, whose /health writes and reads its SQLite.
      const backend = await (await fetch(`${url}/api/health`)).json();
      expect(backend).toMatchObject({ status: 'ok', service: 'backend', tenant: id, database: 'sqlite' });
      const page = await (await fetch(url)).text();
      expect(page).toContain('/api/notes');
      const created = await fetch(`${url}/api/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `note of ${id}` }) });
      expect(created.status).toBe(201);
    }
    // Each backend has its own database: a tenant sees only its own note.
    for (const id of ['fb-plain', 'fb-pg']) {
      const { tenant, notes } = await (await fetch(`${provisioned[id].url}/api/notes`)).json();
      expect(tenant).toBe(id);
      expect(notes.map((n: any) => n.text)).toEqual([`note of ${id}`]);
    }
  });

  it('routes https://<id>.<baseDomain> at the front door to the frontbase frontend', async () => {
    const init = await h.cli(['frontdoor', 'init', '--self-signed', '--json']);
    expect(init.exitCode, init.why).toBe(0);
    for (const id of ['fb-plain', 'fb-pg']) {
      const health = await throughDoor(id, '/health');
      expect(health.status, health.body).toBe(200);
      expect(JSON.parse(health.body)).toEqual({ status: 'ok', service: 'frontend' });
      const page = await throughDoor(id, '/');
      expect(page.status).toBe(200);
      expect(page.body).toContain('<title>Frontbase</title>');
      // Public at the door (no key), passed by the frontend's nginx to this tenant's backend.
      const api = await throughDoor(id, '/api/health');
      expect(api.status, api.body).toBe(200);
      expect(JSON.parse(api.body)).toMatchObject({ service: 'backend', tenant: id });
      // The page's API is public in the template (x-tenantctl.frontdoor.publicPaths): no key needed.
      const notes = await throughDoor(id, '/api/notes');
      expect(notes.status, notes.body).toBe(200);
      expect(JSON.parse(notes.body).tenant).toBe(id);
      // The rest of /api/ needs one of the tenant's API keys at the door: refused without one, and
      // with one passed on to the app (which has no such path: its own 404).
      expect((await throughDoor(id, '/api/private')).status).toBe(401);
      const keyed = await throughDoor(id, '/api/private', provisioned[id].initialApiKey.key);
      expect(keyed.status, keyed.body).toBe(404);
    }
    const crm = await throughDoor('crm1', '/api/health');
    expect(crm.status, crm.body).toBe(200);
  });

  it('answers the edge on its own port, and the crm app on its', async () => {
    const edge = await (await fetch(`http://127.0.0.1:${provisioned['fb-plain'].ports.edge}/health`)).json();
    expect(edge).toMatchObject({ status: 'ok', service: 'edge', tenant: 'fb-plain', database: 'sqlite' });
    const crm = await fetch(`${provisioned.crm1.url}/api/health`);
    expect(crm.status).toBe(200);
    expect(await crm.json()).toMatchObject({ status: 'ok', customer: 'crm1' });
  });

  it('serves Redis over HTTP only with the tenant\'s token, backed by its Redis', async () => {
    const base = `http://127.0.0.1:${provisioned['fb-plain'].ports.redis_http}`;
    const token = secretOf('fb-plain', 'REDIS_HTTP_TOKEN');
    const auth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    expect((await fetch(`${base}/PING`)).status).toBe(403);
    expect((await fetch(`${base}/PING`, { headers: auth('tenantctl', secretOf('fb-pg', 'REDIS_HTTP_TOKEN')) })).status).toBe(403); // another tenant's token
    const ping = await fetch(`${base}/PING`, { headers: auth('tenantctl', token) });
    expect(ping.status).toBe(200);
    expect(await ping.json()).toEqual({ PING: [true, 'PONG'] });
    expect(await (await fetch(`${base}/SET/greeting/hello`, { headers: auth('tenantctl', token) })).json()).toEqual({ SET: [true, 'OK'] });
    // The value is in this tenant's Redis (read through its password-protected redis service).
    const redis = await containerOf(project('fb-plain'), 'redis');
    const read = await dockerExec(redis, ['sh', '-c', 'redis-cli --askpass GET greeting </run/secrets/REDIS_PASSWORD']);
    expect(read.stdout.trim()).toBe('hello');
  });

  it('gives the postgres profile a database frontbase_<id> that takes a login as frontbase', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: provisioned['fb-pg'].ports.postgres, user: 'frontbase', password: secretOf('fb-pg', 'DB_PASSWORD'), database: 'frontbase_fb_pg' });
    await client.connect();
    try {
      expect((await client.query('SELECT current_database() AS db')).rows).toEqual([{ db: 'frontbase_fb_pg' }]);
    } finally {
      await client.end();
    }
  });

  it('keeps the stacks apart: frontbase\'s backend cannot reach crm\'s database or the other tenant\'s, but reaches its own services', async () => {
    const backend = await containerOf(project('fb-plain'), 'backend');
    expect(await connectFrom(backend, 'redis', 6379)).toBe('open'); // so the refusals below mean something
    expect(await connectFrom(backend, 'edge', 3002)).toBe('open');
    const crmDb = await ipOf('crm1', 'db');
    const ownNetwork = await ipOf('fb-plain', 'backend');
    expect(crmDb.Gateway).not.toBe(ownNetwork.Gateway);
    expect(await connectFrom(backend, crmDb.IPAddress, 5432)).not.toBe('open');
    expect(await connectFrom(backend, ownNetwork.Gateway, provisioned.crm1.ports.db)).not.toBe('open');
    const otherPostgres = await ipOf('fb-pg', 'postgres');
    expect(await connectFrom(backend, otherPostgres.IPAddress, 5432)).not.toBe('open');
    expect(await connectFrom(backend, 'db', 5432)).not.toBe('open'); // crm's service name means nothing here
  });

  it('writes secrets as private files, never into the compose file or the output', async () => {
    for (const id of ['fb-plain', 'fb-pg']) {
      const dir = path.join(h.customersDir, id);
      expect(statSync(path.join(dir, 'secrets')).mode & 0o777).toBe(0o700);
      const compose = readFileSync(path.join(dir, 'docker-compose.yml'), 'utf8');
      expect(compose).not.toMatch(/^x-tenantctl:/m);
      for (const name of ['SECRET_KEY', 'REDIS_PASSWORD', 'REDIS_HTTP_TOKEN', 'DB_PASSWORD']) {
        expect(statSync(path.join(dir, 'secrets', name)).mode & 0o777).toBe(0o600);
        const value = secretOf(id, name);
        expect(value.length).toBeGreaterThanOrEqual(32);
        expect(compose).not.toContain(value);
        for (const output of outputs) expect(output).not.toContain(value);
      }
      // Inside, the services see paths (*_FILE), never values.
      const webdis = await inspect(await containerOf(project(id), 'redis-http'));
      expect((webdis.Config.Env as string[]).join('\n')).not.toContain(secretOf(id, 'REDIS_HTTP_TOKEN'));
    }
  });

  it('records each tenant\'s template, checksum and profiles, and lists them', async () => {
    const rows = await h.adminQuery(`SELECT id, template, profiles, template_checksum FROM admin_customers ORDER BY id`);
    expect(rows.map((r) => [r.id, r.template, r.profiles])).toEqual([['crm1', 'crm', []], ['fb-pg', 'frontbase', ['postgres']], ['fb-plain', 'frontbase', []]]);
    for (const r of rows) expect(r.template_checksum).toMatch(/^[0-9a-f]{64}$/);
    const list = await h.cli(['list', '--json']);
    expect(list.exitCode, list.why).toBe(0);
    expect(list.json().map((t: any) => [t.id, t.template])).toEqual([['crm1', 'crm'], ['fb-pg', 'frontbase'], ['fb-plain', 'frontbase']]);
  });

  it('stops and starts a frontbase tenant with its profile and its data (SQLite and PostgreSQL on volumes)', async () => {
    const id = 'fb-pg';
    const client = () => new pg.Client({ host: '127.0.0.1', port: provisioned[id].ports.postgres, user: 'frontbase', password: secretOf(id, 'DB_PASSWORD'), database: 'frontbase_fb_pg' });
    const before = client();
    await before.connect();
    await before.query('CREATE TABLE kept (value text); INSERT INTO kept VALUES ($$still here$$)');
    await before.end();

    const stop = await h.cli(['stop', id, '--json']);
    expect(stop.exitCode, stop.why).toBe(0);
    expect((await fetch(`${provisioned[id].url}/health`).catch(() => undefined))?.status).toBeUndefined();
    const start = await h.cli(['start', id, '--json']);
    expect(start.exitCode, start.why).toBe(0);

    expect(await servicesOf(id)).toEqual([...frontbaseServices, 'postgres'].sort());
    const { notes } = await (await fetch(`${provisioned[id].url}/api/notes`)).json();
    expect(notes.map((n: any) => n.text)).toEqual([`note of ${id}`]);
    const after = client();
    await after.connect();
    try {
      expect((await after.query('SELECT value FROM kept')).rows).toEqual([{ value: 'still here' }]);
    } finally {
      await after.end();
    }
  }, 180_000);

  it('deprovisions all three and leaves no container, network, volume, folder or allocation', async () => {
    for (const id of tenants) {
      const result = await h.cli(['deprovision', id, '--yes', '--json']);
      expect(result.exitCode, result.why).toBe(0);
      expect(result.json()).toMatchObject({ id, outcome: 'deprovisioned', keptData: false });
    }
    for (const id of tenants) {
      expect(await dockerObjectsWithPrefix(project(id)), id).toEqual({ containers: [], networks: [], volumes: [] });
      expect(existsSync(path.join(h.customersDir, id)), id).toBe(false);
    }
    expect(await h.adminQuery('SELECT * FROM admin_allocations')).toEqual([]);
    expect((await h.adminQuery(`SELECT id, status FROM admin_customers ORDER BY id`)).map((r) => r.status)).toEqual(['deprovisioned', 'deprovisioned', 'deprovisioned']);
  }, 180_000);
});
