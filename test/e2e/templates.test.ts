// Templates (issue 12) end to end: a template with a bad x-tenantctl block is refused by
// `templates validate` and by `provision` with nothing created; an operator's own small template
// (a node HTTP server, Redis with a password, and an optional part switched on with --with) from a
// templates directory is provisioned twice (with and without the profile), ready by its declared
// probes, reachable, recorded with its template, checksum and named ports, and deprovisioned with
// nothing left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { execa } from 'execa';
import { createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';

let h: Harness;
let templatesDir: string;

// Overlapping ranges on purpose: reservations are per port, never per range.
const range = '{ from: 47100, to: 47199 }';
const server = (port: number) => `require('http').createServer((q, s) => { s.writeHead(q.url === '/health' ? 200 : 404); s.end(process.env.TENANT_NAME); }).listen(${port})`;
const miniTemplate = `x-tenantctl:
  version: 1
  description: "a node HTTP server and Redis with a password; an optional second server"
  ports:
    web: { service: web, container: 8080, range: ${range} }
    cache: { service: cache, container: 6379, range: ${range} }
    extra: { service: extra, container: 8081, range: ${range} }
  frontdoor: { port: web }
  secrets:
    CACHE_PASSWORD: { length: 24, alphabet: hex }
  readiness:
    web: { http: { port: web, path: /health, status: 200 } }
    cache: { redis: { port: cache, passwordSecret: CACHE_PASSWORD } }
    extra: { tcp: { port: extra } }
  profiles:
    extra: { description: "a second HTTP server", services: [extra] }
  variables:
    node_image: { default: "tenantctl/node:bookworm", description: "the image the servers run on" }

x-labels: &labels
  tenantctl.managed: "true"
  tenantctl.tenant: "{{tenant_id}}"

services:
  web:
    image: "{{node_image}}"
    command: ["node", "-e", ${JSON.stringify(server(8080))}]
    environment:
      TENANT_NAME: "{{tenant_name}}"
    ports: ["{{bind_address}}:{{port.web}}:8080"]
    networks: [tenant]
    labels: *labels
  cache:
    image: "{{image_redis}}"
    command: ["redis-server", "--save", "", "--appendonly", "no"]
    environment:
      REDIS_PASSWORD_FILE: /run/secrets/CACHE_PASSWORD
    secrets: [CACHE_PASSWORD]
    tmpfs: ["/run/tenantctl:mode=0700,size=64k"]
    ports: ["{{bind_address}}:{{port.cache}}:6379"]
    networks: [tenant]
    labels: *labels
  extra:
    image: "{{node_image}}"
    profiles: [extra]
    command: ["node", "-e", ${JSON.stringify(server(8081))}]
    ports: ["{{bind_address}}:{{port.extra}}:8081"]
    networks: [tenant]
    labels: *labels

networks:
  tenant:
    ipam:
      config:
        - subnet: "{{subnet}}"
    labels: *labels

secrets:
  CACHE_PASSWORD:
    file: ./secrets/CACHE_PASSWORD
`;

/** The same template with its readiness naming a secret it does not declare, and a port of a service that does not exist. */
const brokenTemplate = miniTemplate
  .replace('cache: { redis: { port: cache, passwordSecret: CACHE_PASSWORD } }', 'cache: { redis: { port: cache, passwordSecret: NO_SUCH_SECRET } }')
  .replace('extra: { service: extra, container: 8081', 'extra: { service: extras, container: 8081');

const provisioned: Record<string, any> = {};

beforeAll(async () => {
  h = await createHarness('templates');
  templatesDir = path.join(h.dir, 'my-templates');
  for (const [name, text] of [['mini', miniTemplate], ['broken', brokenTemplate]] as const) {
    mkdirSync(path.join(templatesDir, name), { recursive: true });
    writeFileSync(path.join(templatesDir, name, 'docker-compose.tenant.yml'), text);
  }
  h.env.TENANTCTL_TEMPLATES_DIR = templatesDir;
}, 60_000);

afterAll(async () => {
  await h?.cleanup();
}, 120_000);

describe('a template with a bad x-tenantctl block', () => {
  it('is refused by templates validate: exit 2, one path: message line per problem', async () => {
    const r = await h.cli(['templates', 'validate', path.join(templatesDir, 'broken')]);
    expect(r.exitCode, r.why).toBe(2);
    expect(r.stderr).toMatch(/template \S*broken\S* is invalid \(2 problems\)/);
    expect(r.stderr).toMatch(/^ {2}x-tenantctl\.readiness\.cache\.redis\.passwordSecret: secret NO_SUCH_SECRET is not declared under x-tenantctl\.secrets$/m);
    expect(r.stderr).toMatch(/^ {2}x-tenantctl\.ports\.extra\.service: service extras is not in the compose file's services/m);
    const json = await h.cli(['templates', 'validate', path.join(templatesDir, 'broken'), '--json']);
    expect(json.exitCode).toBe(2);
    expect(json.json().error.details).toHaveLength(2);
  });

  it('is refused by provision with exit 2 and nothing created', async () => {
    const r = await h.cli(['provision', 'bad', '--template', 'broken', '--json']);
    expect(r.exitCode, r.why).toBe(2);
    expect(r.json().error.details).toEqual(expect.arrayContaining([expect.stringMatching(/^x-tenantctl\.readiness\.cache\.redis\.passwordSecret: /)]));
    expect(await dockerObjectsWithPrefix(`${h.prefix}-bad`)).toEqual({ containers: [], networks: [], volumes: [] });
    expect(existsSync(path.join(h.customersDir, 'bad'))).toBe(false);
  });

  it('a good template validates, and is listed beside the shipped ones', async () => {
    const ok = await h.cli(['templates', 'validate', path.join(templatesDir, 'mini', 'docker-compose.tenant.yml'), '--json']);
    expect(ok.exitCode, ok.why).toBe(0);
    expect(ok.json()).toMatchObject({ valid: true, ports: ['web', 'cache', 'extra'], secrets: ['CACHE_PASSWORD'], profiles: ['extra'] });
    const list = await h.cli(['templates', 'list', '--json']);
    const byName = Object.fromEntries(list.json().templates.map((t: any) => [t.name, t]));
    expect(byName.crm).toMatchObject({ source: 'shipped', default: true });
    expect(byName.mini).toMatchObject({ source: 'operator', profiles: ['extra'] });
    expect(byName.broken.problems.length).toBe(2);
    const unknownProfile = await h.cli(['provision', 'nope', '--template', 'mini', '--with', 'postgres']);
    expect(unknownProfile.exitCode).toBe(2);
    expect(unknownProfile.stderr).toMatch(/template mini has no profile postgres; its profiles: extra/);
  });
});

describe('an operator\'s own template, provisioned with and without its optional part', () => {
  beforeAll(async () => {
    const [a, b] = await Promise.all([
      h.cli(['provision', 'mini-a', '--name', 'Mini "A"', '--template', 'mini', '--with', 'extra', '--json']),
      h.cli(['provision', 'mini-b', '--template', 'mini', '--json']),
    ]);
    const failed = [a, b].filter((r) => r.exitCode !== 0);
    if (failed.length > 0) throw new Error(`provisioning failed:\n${failed.map((r) => r.why).join('\n')}`);
    provisioned.a = a.json();
    provisioned.b = b.json();
  }, 300_000);

  it('is ready by its declared probes: the HTTP server answers, Redis takes its password and only that', async () => {
    // A port of a profile that is off is not reserved: mini-b has no extra port.
    expect(Object.keys(provisioned.a.ports).sort()).toEqual(['cache', 'extra', 'web']);
    expect(Object.keys(provisioned.b.ports).sort()).toEqual(['cache', 'web']);
    for (const p of [provisioned.a, provisioned.b]) {
      expect(p).toMatchObject({ outcome: 'active', template: 'mini' });
      expect(new Set(Object.values(p.ports)).size).toBe(Object.keys(p.ports).length);
      for (const port of Object.values(p.ports) as number[]) expect(port).toBeGreaterThanOrEqual(47100);
      expect(p.url).toBe(`http://127.0.0.1:${p.ports.web}`);
      const health = await fetch(`${p.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.text()).toBe(p.id === 'mini-a' ? 'Mini "A"' : 'mini-b');
    }
    expect(provisioned.a.profiles).toEqual(['extra']);
    expect(provisioned.b.profiles).toEqual([]);
    // Five distinct host ports across the two tenants, from one overlapping range.
    expect(new Set([...Object.values(provisioned.a.ports), ...Object.values(provisioned.b.ports)]).size).toBe(5);

    const secretFile = path.join(h.customersDir, 'mini-a', 'secrets', 'CACHE_PASSWORD');
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const password = readFileSync(secretFile, 'utf8');
    expect(password).toMatch(/^[0-9a-f]{24}$/);
    const redis = new Redis({ host: '127.0.0.1', port: provisioned.a.ports.cache, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
    // Without the password nothing is answered; mini-b's password does not open mini-a's Redis.
    const other = new Redis({ host: '127.0.0.1', port: provisioned.a.ports.cache, lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, retryStrategy: () => null });
    other.on('error', () => {});
    try {
      await other.connect();
      await expect(other.ping()).rejects.toThrow(/NOAUTH/);
      await expect(other.auth(readFileSync(path.join(h.customersDir, 'mini-b', 'secrets', 'CACHE_PASSWORD'), 'utf8'))).rejects.toThrow(/WRONGPASS|invalid/i);
    } finally {
      other.disconnect();
    }
  });

  it('runs the optional part only where it was switched on', async () => {
    const extra = await fetch(`http://127.0.0.1:${provisioned.a.ports.extra}/health`);
    expect(extra.status).toBe(200);
    const objects = async (id: string) => (await dockerObjectsWithPrefix(`${h.prefix}-${id}`)).containers.length;
    expect(await objects('mini-a')).toBe(3);
    expect(await objects('mini-b')).toBe(2);
  });

  it('is recorded with its template, checksum, profiles and ports by name; list and status show them', async () => {
    const rows = await h.adminQuery("SELECT id, template, template_checksum, profiles, app_port, db_port, redis_port FROM admin_customers WHERE id IN ('mini-a', 'mini-b', 'bad') ORDER BY id");
    expect(rows.map((r) => r.id)).toEqual(['mini-a', 'mini-b']); // the refused one left no row
    // app_port is the front door's port (web, here), which the front door routes to; db/redis are crm's names only.
    expect(rows[0]).toMatchObject({ template: 'mini', profiles: ['extra'], app_port: provisioned.a.ports.web, db_port: null, redis_port: null });
    expect(rows[0].template_checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[1].template_checksum).toBe(rows[0].template_checksum);
    const allocations = await h.adminQuery("SELECT purpose, value FROM admin_allocations WHERE customer_id = 'mini-a' AND kind = 'port' ORDER BY purpose");
    expect(Object.fromEntries(allocations.map((r) => [r.purpose, Number(r.value)]))).toEqual(provisioned.a.ports);
    const deployment = await h.adminQuery("SELECT template_name, template_checksum FROM admin_tenant_deployments WHERE customer_id = 'mini-a'");
    expect(deployment).toEqual([{ template_name: 'mini', template_checksum: rows[0].template_checksum }]);

    const list = await h.cli(['list', '--json']);
    const listed = list.json().find((t: any) => t.id === 'mini-a');
    expect(listed).toMatchObject({ template: 'mini', profiles: ['extra'], namedPorts: provisioned.a.ports, live: 'running' });
    const status = await h.cli(['status', 'mini-a', '--json']);
    expect(status.json().ports).toEqual(provisioned.a.ports);
    expect((await h.cli(['status', 'mini-a'])).stdout).toMatch(/template mini \(with extra\)/);
  });

  it('stop and start follow the template (its profile included); verbs that need what it lacks refuse, naming it', async () => {
    const stop = await h.cli(['stop', 'mini-a', '--json']);
    expect(stop.exitCode, stop.why).toBe(0);
    const start = await h.cli(['start', 'mini-a', '--json']);
    expect(start.exitCode, start.why).toBe(0);
    expect(start.json().services.sort()).toEqual(['cache', 'extra', 'web']);
    expect((await fetch(`http://127.0.0.1:${provisioned.a.ports.extra}/health`)).status).toBe(200);

    const psql = await h.cli(['psql', 'mini-a', '--', '-c', 'select 1']);
    expect(psql.exitCode, psql.why).toBe(2);
    expect(psql.stderr).toMatch(/mini-a cannot open a database session: its template mini has no database/);
    // redis-cli works from the block: the service with redis readiness, its password secret.
    const ping = await h.cli(['redis-cli', 'mini-a', '--', 'PING']);
    expect(ping.exitCode, ping.why).toBe(0);
    expect(ping.stdout.trim()).toBe('PONG');
    // No x-tenantctl.state: nothing to back up, restore, move or clone; no migrations to apply.
    for (const [args, refusal] of [
      [['backup', 'mini-a'], /mini-a cannot be backed up.*: its template mini declares no state \(x-tenantctl\.state/],
      [['clone', 'mini-a', '--as', 'mini-c'], /mini-a cannot be cloned: its template mini declares no state/],
      [['migrate', 'mini-a'], /mini-a cannot be migrated: its template mini has no migrations/],
    ] as const) {
      const r = await h.cli([...args]);
      expect(r.exitCode, r.why).toBe(2);
      expect(r.stderr).toMatch(refusal);
    }
    expect(await h.adminQuery("SELECT id FROM admin_customers WHERE id = 'mini-c'")).toEqual([]);
  });

  it('rotates its secret from the block alone: the service that mounts it is recreated, the old password refused', async () => {
    const secretFile = path.join(h.customersDir, 'mini-a', 'secrets', 'CACHE_PASSWORD');
    const old = readFileSync(secretFile, 'utf8').trim();
    const r = await h.cli(['rotate-secrets', 'mini-a', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ id: 'mini-a', rotated: ['CACHE_PASSWORD'] });
    const fresh = readFileSync(secretFile, 'utf8').trim();
    expect(fresh).toMatch(/^[0-9a-f]{24}$/);
    expect(fresh).not.toBe(old);
    const cache = new Redis({ host: '127.0.0.1', port: provisioned.a.ports.cache, lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, retryStrategy: () => null });
    cache.on('error', () => {});
    try {
      await cache.connect();
      await expect(cache.auth(old)).rejects.toThrow(/WRONGPASS|invalid/i);
      expect(await cache.auth(fresh)).toBe('OK');
    } finally {
      cache.disconnect();
    }
    const bad = await h.cli(['rotate-secrets', 'mini-a', '--only', 'DB_PASSWORD']);
    expect(bad.exitCode, bad.why).toBe(2);
    expect(bad.stderr).toMatch(/expected secrets of the tenant's template: CACHE_PASSWORD/);
  }, 120_000);

  it('is deprovisioned with nothing left', async () => {
    // The cache's image declares VOLUME /data, which the template mounts nothing over: each cache
    // has an anonymous volume, and mini-a's was inherited by name when rotate recreated it (compose
    // down -v keeps such a one: src/stack/anonymous-volumes.ts). This run's own, so both must go.
    const projects = [`${h.prefix}-mini-a`, `${h.prefix}-mini-b`];
    const caches = (await execa('docker', ['ps', '-a', '--filter', 'label=com.docker.compose.service=cache', '--format', '{{.ID}} {{.Label "com.docker.compose.project"}}'])).stdout
      .split('\n').map((l) => l.split(' ')).filter(([, project]) => projects.includes(project ?? '')).map(([id]) => id!);
    expect(caches).toHaveLength(2);
    const anonymous = (await execa('docker', ['container', 'inspect', '--format', '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', ...caches])).stdout.split(/\s+/).filter((n) => /^[0-9a-f]{64}$/.test(n));
    expect(anonymous).toHaveLength(2);
    const r = await h.cli(['deprovision', 'mini-a', 'mini-b', '--yes', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    const left = await execa('docker', ['volume', 'inspect', ...anonymous], { reject: false });
    expect(left.stdout.trim(), 'the caches\' anonymous volumes are removed with their stacks').toBe('[]');
    expect(await dockerObjectsWithPrefix(`${h.prefix}-mini`)).toEqual({ containers: [], networks: [], volumes: [] });
    for (const id of ['mini-a', 'mini-b']) expect(existsSync(path.join(h.customersDir, id))).toBe(false);
    expect(await h.adminQuery("SELECT * FROM admin_allocations WHERE customer_id IN ('mini-a', 'mini-b')")).toEqual([]);
  });
});
