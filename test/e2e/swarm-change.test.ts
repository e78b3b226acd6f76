// A crm tenant on a three-node test swarm (the engines of test/e2e/engines.ts, as swarm.test.ts
// builds them), changed through the CLI: upgraded to a new app image and back, an upgrade to a
// broken image rolled back (the tenant keeps serving the image it ran, its rows intact, the pins
// of the last good state kept on its node), rotate-secrets with versioned swarm secrets (the old
// owner password refused, the app healthy on the new ones, the old secret objects gone), and each
// of upgrade and rotate-secrets killed (SIGKILL) and interrupted (SIGINT) at a step, then settled;
// stats from the node's running containers; deprovision --keep-data and provision again on the same
// node with the rows. Then deprovisioned with nothing left on any node.
import { execa } from 'execa';
import pg from 'pg';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerHost, parseDockerEndpoint } from '../../src/engine/docker-host.js';
import { swarmLeftovers } from '../../src/swarm/swarm-stack.js';
import { tenantDbThroughEngine } from './tenant-db.js';
import { createHarness, type Harness } from './harness.js';
import { startEngines, type TestEngine, type TestEngines } from './engines.js';
import { startPausedAt } from './pause.js';
import { interrupt, killHard } from './journal.js';

let h: Harness;
let fleet: TestEngines;
let manager: DockerHost;
const tenant = 'sw';
const run = Date.now().toString(36);
const label = `tenantctl.test=swarm-change-${run}`;
const goodImage = `tctswarmchange-good:${run}`;
const brokenImage = `tctswarmchange-broken:${run}`;
const originalImage = 'tenantctl/app:latest';
let goodId = '';
let originalId = '';
let ports: { app: number; db: number; redis: number };
const timings: Record<string, number> = {};
const project = () => `${h.prefix}-${tenant}`;

async function build(tag: string, dockerfile: string): Promise<string> {
  await execa('docker', ['build', '-q', '--label', label, '-t', tag, '-'], { input: dockerfile, timeout: 300_000 });
  return (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', tag])).stdout.trim();
}

async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    timings[name] = Math.round(performance.now() - started);
  }
}

beforeAll(async () => {
  [fleet, goodId, originalId] = await Promise.all([
    startEngines('swchg', 3).then(async (f) => {
      await f.formSwarm();
      return f;
    }),
    build(goodImage, `FROM ${originalImage}\nLABEL tenantctl.swarm-change-test="good ${run}"\n`),
    execa('docker', ['image', 'inspect', '--format', '{{.Id}}', originalImage]).then((r) => r.stdout.trim()),
    build(brokenImage, `FROM ${originalImage}\nLABEL tenantctl.swarm-change-test="broken ${run}"\nENTRYPOINT ["sh", "-c", "echo this build is broken >&2; exit 3"]\n`),
  ]) as [TestEngines, string, string, string];
  // A short health interval: swarm's DNS names a task only once its health check passed.
  h = await createHarness('swchg', { ...fleet.sshEnv, TENANTCTL_HEALTH_INTERVAL: '2', TENANTCTL_HEALTH_DEADLINE: '90' });
  manager = new DockerHost('swarm', parseDockerEndpoint(fleet.engines[0]!.tcp), { kind: 'swarm' });
  const added = await h.cli(['hosts', 'add', 'swarm1', '--docker', fleet.engines[0]!.tcp, '--swarm', '--json']);
  expect(added.exitCode, added.why).toBe(0);
  const provisioned = await timed('provisionMs', () => h.cli(['provision', tenant, '--host', 'swarm1', '--plan', 'starter', '--json'], { timeoutMs: 600_000 }));
  expect(provisioned.exitCode, provisioned.why).toBe(0);
  ports = provisioned.json().ports;
  await ownerQuery('CREATE TABLE k (n int); INSERT INTO k SELECT generate_series(1, 1000)');
}, 900_000);

afterAll(async () => {
  console.log(`swarm-change timings: ${JSON.stringify(timings)}`);
  await h?.cleanup();
  await fleet?.cleanup();
  const ids = (await execa('docker', ['image', 'ls', '-q', '--filter', `label=${label}`], { reject: false })).stdout.split('\n').filter(Boolean);
  await execa('docker', ['rmi', '-f', goodImage, brokenImage, ...ids], { reject: false });
}, 300_000);

/** The engine of the node the tenant's stack is pinned to. */
async function nodeEngine(): Promise<TestEngine> {
  const node = (await manager.docker(['stack', 'ps', project(), '--filter', 'desired-state=running', '--format', '{{.Node}}'])).split('\n')[0];
  return fleet.engines.find((e) => e.name === node)!;
}

const secretFile = (name: string) => readFileSync(path.join(h.customersDir, tenant, 'secrets', name), 'utf8');

/** None of `values` (a rotation's new secrets) in a run's output. */
function expectNoSecretIn(output: string, values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) {
    expect(value.length, name).toBeGreaterThan(8);
    expect(output.includes(value), `${name} in the output`).toBe(false);
  }
}
const filesNow = (): Secrets => Object.fromEntries((['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'] as const).map((n) => [n, secretFile(n).trim()])) as Secrets;

/** The tenant's PostgreSQL is not published on a swarm node: reached through the engine (docker exec relay). */
async function login(user: string, password: string): Promise<pg.Client> {
  return tenantDbThroughEngine((await nodeEngine()).tcp, { project: project(), service: 'db' }, { user, password, database: 'tenant' });
}

async function ownerQuery(sql: string): Promise<any[]> {
  const client = await login('tenant_owner', secretFile('DB_PASSWORD'));
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const rows = async () => (await ownerQuery('SELECT count(*)::int AS n, sum(n)::int AS s FROM k'))[0];

/** The app's own health answer at its node's address: it reaches its database and Redis. */
async function health(): Promise<any> {
  return (await fetch(`http://${(await nodeEngine()).address}:${ports.app}/api/health`)).json();
}

/** The image id each running task container of the stack runs on its node, by service. */
async function runningIds(): Promise<Record<string, string>> {
  const engine = await nodeEngine();
  const out = await engine.docker(['ps', '--filter', `label=com.docker.stack.namespace=${project()}`, '--format', '{{.Label "com.docker.compose.service"}} {{.ID}}']);
  const ids: Record<string, string> = {};
  for (const [service, container] of out.split('\n').filter(Boolean).map((l) => l.split(' '))) {
    ids[service!] = (await engine.docker(['inspect', '--format', '{{.Image}}', container!])).trim();
  }
  return ids;
}

/** What the app service's spec names (its pin on the node). */
const specImage = async (service: string) => (await manager.docker(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', `${project()}_${service}`])).trim();
const pinsOnNode = async () => (await (await nodeEngine()).docker(['image', 'ls', '--filter', `reference=tenantctl-pin/${project()}`, '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter(Boolean).sort();
const pinOf = (id: string) => `tenantctl-pin/${project()}:${id.replace(/^sha256:/, '').slice(0, 16)}`;
const openOperations = () => h.adminQuery("SELECT verb, step FROM admin_operations WHERE customer_id = $1 AND state = 'running'", [tenant]);
const lastDeployment = async () => (await h.adminQuery('SELECT reason, images FROM admin_tenant_deployments WHERE customer_id = $1 ORDER BY id DESC LIMIT 1', [tenant]))[0];

describe('upgrade on a swarm', () => {
  it('to a new app image: the stack deployed again, app and worker on the new image id, rows intact, the older pins pruned', async () => {
    const before = await rows();
    const r = await timed('upgradeMs', () => h.cli(['upgrade', tenant, '--image', `app=${goodImage}`, '--json'], { timeoutMs: 300_000 }));
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ id: tenant, outcome: 'upgraded' });
    expect(r.json().recreated).toEqual(['app', 'worker']);
    const ids = await runningIds();
    expect([ids.app, ids.worker]).toEqual([goodId, goodId]);
    expect(await specImage('app')).toBe(pinOf(goodId));
    expect(await rows()).toEqual(before);
    expect(await health()).toMatchObject({ status: 'ok', db: 'ok', redis: 'ok' });
    const recorded = await lastDeployment();
    expect(recorded.reason).toBe('upgrade');
    expect(recorded.images.app).toEqual({ tag: goodImage, id: goodId });
    // The last good state's pins only: the original app image's pin went (postgres and redis stay).
    const pins = await pinsOnNode();
    expect(pins).toContain(pinOf(goodId));
    expect(pins).not.toContain(pinOf(originalId));
    expect(await openOperations()).toEqual([]);
  }, 600_000);

  it('to a broken image: not ready, rolled back to the image id it ran (exit 7), serving, rows intact', async () => {
    const before = await rows();
    const r = await timed('failedUpgradeMs', () => h.cli(['upgrade', tenant, '--image', `app=${brokenImage}`, '--json'], { timeoutMs: 300_000, env: { TENANTCTL_HEALTH_DEADLINE: '20' } }));
    expect(r.exitCode, r.why).toBe(7);
    expect(r.json().error.message).toMatch(/rolled back to the state recorded at .*which is ready/);
    expect(await specImage('app')).toBe(pinOf(goodId));
    const ids = await runningIds();
    expect([ids.app, ids.worker]).toEqual([goodId, goodId]);
    expect(await health()).toMatchObject({ status: 'ok', db: 'ok', redis: 'ok' });
    expect(await rows()).toEqual(before);
    expect((await lastDeployment()).reason).toBe('rollback');
    expect(await pinsOnNode()).toContain(pinOf(goodId));
    expect(await openOperations()).toEqual([]);
  }, 600_000);

  it('kill -9 with the new stack deployed (upgrade:compose-up), then `start` rolls it back from the journal', async () => {
    const before = await rows();
    await killHard(await startPausedAt(h, ['upgrade', tenant, '--image', `app=${originalImage}`, '--quiet'], 'upgrade:compose-up'));
    expect(await openOperations()).toEqual([{ verb: 'upgrade', step: 'up' }]);
    const settled = await timed('killedUpgradeSettleMs', () => h.cli(['start', tenant], { timeoutMs: 300_000 }));
    expect(settled.exitCode, settled.why).toBe(0);
    expect(settled.stderr).toContain(`the interrupted upgrade of ${tenant} is undone`);
    expect(await specImage('app')).toBe(pinOf(goodId));
    expect((await runningIds()).app).toBe(goodId);
    expect(await rows()).toEqual(before);
    expect(await openOperations()).toEqual([]);
  }, 600_000);

  it('Ctrl-C with the new stack deployed: exit 130, rolled back in-process, nothing in flight', async () => {
    const r = await interrupt(await startPausedAt(h, ['upgrade', tenant, '--image', `app=${originalImage}`], 'upgrade:compose-up'));
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toContain('rolled back to the state recorded at');
    expect(await specImage('app')).toBe(pinOf(goodId));
    expect((await runningIds()).app).toBe(goodId);
    expect(await openOperations()).toEqual([]);
  }, 600_000);

  it('and back to the original image', async () => {
    const r = await h.cli(['upgrade', tenant, '--image', `app=${originalImage}`, '--json'], { timeoutMs: 300_000 });
    expect(r.exitCode, r.why).toBe(0);
    expect((await runningIds()).app).toBe(originalId);
    expect(await specImage('app')).toBe(pinOf(originalId));
    expect(await pinsOnNode()).not.toContain(pinOf(goodId));
    expect((await rows()).n).toBe(1000);
  }, 600_000);
});

type Secrets = Record<'DB_PASSWORD' | 'APP_DB_PASSWORD' | 'REDIS_PASSWORD' | 'JWT_SECRET', string>;

async function sealed(): Promise<Secrets> {
  const r = await h.cli(['secrets', tenant, '--json']);
  expect(r.exitCode, r.why).toBe(0);
  return r.json().secrets;
}

/** Whether the running PostgreSQL takes tenant_owner's and tenant_app's logins with these passwords. */
async function taken(secrets: Secrets): Promise<{ owner: boolean; app: boolean }> {
  const tries = async (user: string, password: string) => login(user, password).then(async (c) => {
    await c.end();
    return true;
  }, () => false);
  return { owner: await tries('tenant_owner', secrets.DB_PASSWORD), app: await tries('tenant_app', secrets.APP_DB_PASSWORD) };
}

/** The stack's secret objects on the manager, and the ones its services read. */
async function secretObjects(): Promise<{ all: string[]; read: string[] }> {
  const all = (await manager.docker(['secret', 'ls', '--filter', `label=com.docker.stack.namespace=${project()}`, '--format', '{{.Name}}'])).split('\n').filter(Boolean).sort();
  const services = (await manager.docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${project()}`])).split('\n').filter(Boolean);
  const read = (await manager.docker(['service', 'inspect', '--format', '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}', ...services])).split(/\s+/).filter(Boolean);
  return { all, read: [...new Set(read)].sort() };
}

/** The sealed values are in the files, the servers take them, the app is healthy, and only the secret objects read are left. */
async function expectSettled(expected: Secrets): Promise<void> {
  expect(await sealed()).toEqual(expected);
  for (const [name, value] of Object.entries(expected)) expect(secretFile(name).trim(), name).toBe(value);
  expect(await taken(expected)).toEqual({ owner: true, app: true });
  expect(await health()).toMatchObject({ status: 'ok', db: 'ok', redis: 'ok' });
  const objects = await secretObjects();
  expect(objects.all).toEqual(objects.read);
  expect(objects.all).toHaveLength(4);
  expect(await openOperations()).toEqual([]);
}

describe('rotate-secrets on a swarm', () => {
  it('new versioned secret objects, the old owner password refused, the app healthy on the new ones, the old objects gone', async () => {
    const before = await sealed();
    const objectsBefore = await secretObjects();
    const data = await rows();
    const r = await timed('rotateMs', () => h.cli(['rotate-secrets', tenant, '--json'], { timeoutMs: 300_000 }));
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json().rotated.sort()).toEqual(Object.keys(before).sort());
    const after = await sealed();
    expectNoSecretIn(r.stdout + r.stderr, after);
    for (const name of Object.keys(before) as Array<keyof Secrets>) expect(after[name], name).not.toBe(before[name]);
    expect(await taken(before)).toEqual({ owner: false, app: false });
    await expectSettled(after);
    const objects = await secretObjects();
    expect(objects.all.every((name) => /_v\d+$/.test(name))).toBe(true);
    expect(objects.all.some((name) => objectsBefore.all.includes(name))).toBe(false);
    expect(await rows()).toEqual(data);
  }, 600_000);

  it('kill -9 with the stack deployed on the new versions (rotate:recreated), then `start` puts the old ones back', async () => {
    const before = await sealed();
    const objectsBefore = await secretObjects();
    const paused = await startPausedAt(h, ['rotate-secrets', tenant], 'rotate:recreated');
    const fresh = filesNow(); // the new values, written before the pause
    expect(fresh.DB_PASSWORD).not.toBe(before.DB_PASSWORD);
    await killHard(paused);
    const killed = await paused.child;
    expect((await secretObjects()).read).not.toEqual(objectsBefore.read);
    const settled = await timed('killedRotateSettleMs', () => h.cli(['start', tenant], { timeoutMs: 300_000 }));
    expect(settled.exitCode, settled.why).toBe(0);
    expectNoSecretIn(`${killed.stdout}${killed.stderr}${settled.stdout}${settled.stderr}`, fresh);
    expect(settled.stderr).toContain(`the interrupted rotate-secrets of ${tenant} is undone`);
    await expectSettled(before);
    expect(await secretObjects()).toEqual(objectsBefore);
  }, 600_000);

  it('Ctrl-C with the new values applied to the servers and in the files (rotate:files-written): exit 130, the old ones back and proven', async () => {
    const before = await sealed();
    const paused = await startPausedAt(h, ['rotate-secrets', tenant, '--only', 'db,redis'], 'rotate:files-written');
    const fresh = filesNow();
    expect(fresh.DB_PASSWORD).not.toBe(before.DB_PASSWORD);
    expect(fresh.REDIS_PASSWORD).not.toBe(before.REDIS_PASSWORD);
    const r = await interrupt(paused);
    expect(r.exitCode, r.stderr).toBe(130);
    expectNoSecretIn(r.stdout + r.stderr, { DB_PASSWORD: fresh.DB_PASSWORD, REDIS_PASSWORD: fresh.REDIS_PASSWORD });
    expect(r.stderr).toContain('the old secrets were put back everywhere and proven to work');
    await expectSettled(before);
    expect((await rows()).n).toBe(1000);
  }, 600_000);
});

describe('stats on a swarm', () => {
  it('samples the running task containers on the tenant\'s node, one per service (not the ended tasks\' history)', async () => {
    const r = await h.cli(['stats', tenant, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    const [row] = r.json().tenants;
    expect(row.services.map((s: any) => s.service).sort()).toEqual(['app', 'db', 'redis', 'worker']);
    for (const service of row.services) {
      expect(service.state, service.service).toBe('running');
      expect(service.memory.usedBytes, service.service).toBeGreaterThan(0);
    }
  }, 120_000);
});

describe('deprovision --keep-data on a swarm, and back', () => {
  it('keeps the volumes on the node and nothing else; provision places the stack there again, on its rows', async () => {
    const node = (await nodeEngine()).name;
    const r = await h.cli(['deprovision', tenant, '--keep-data', '--yes', '--json'], { timeoutMs: 300_000 });
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ outcome: 'deprovisioned', keptData: true });
    expect(r.json().removed.keptVolumes).toEqual([`${node}/${project()}_db-data`, `${node}/${project()}_redis-data`]);
    expect(await swarmLeftovers(manager, project())).toEqual([`volumes on ${node}: ${project()}_db-data ${project()}_redis-data`]);
    // Where the data is, recorded with the tenant: a node no longer in the swarm is refused (exit 5),
    // nothing deployed; --fresh-data is refused while the kept data can be reached.
    const recordFile = path.join(h.customersDir, tenant, 'kept-data.json');
    const recorded = readFileSync(recordFile, 'utf8');
    expect(JSON.parse(recorded).nodes).toMatchObject([{ node, volumes: [`${project()}_db-data`, `${project()}_redis-data`] }]);
    writeFileSync(recordFile, recorded.replace(/"nodeId": "[^"]+"/, '"nodeId": "zzzzzzzzzzzzzzzzzzzzzzzzz"'));
    const gone = await h.cli(['provision', tenant, '--host', 'swarm1', '--plan', 'starter', '--json']);
    writeFileSync(recordFile, recorded);
    expect(gone.exitCode, gone.why).toBe(5);
    expect(gone.json().error.message).toContain(`is on node ${node}, which is no longer in the swarm`);
    expect(await manager.docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${project()}`])).toBe('');
    const fresh = await h.cli(['provision', tenant, '--host', 'swarm1', '--plan', 'starter', '--fresh-data', '--json']);
    expect(fresh.exitCode, fresh.why).toBe(5);
    expect(fresh.json().error.message).toContain('reachable: --fresh-data would start over it');
    // The node holding the data made the busiest: a placement by load would choose another one.
    const load = `tctswchg-load-${run}`;
    await manager.docker(['service', 'create', '-d', '--name', load, '--label', 'tenantctl.managed=true', '--constraint', `node.hostname==${node}`, '--replicas', '3', '--no-resolve-image', originalImage, 'sleep', '86400']);
    try {
      const again = await timed('keptDataProvisionMs', () => h.cli(['provision', tenant, '--host', 'swarm1', '--plan', 'starter', '--json'], { timeoutMs: 600_000 }));
      expect(again.exitCode, again.why).toBe(0);
    } finally {
      await manager.docker(['service', 'rm', load]);
    }
    expect((await nodeEngine()).name).toBe(node);
    expect(await rows()).toEqual({ n: 1000, s: 500500 });
    expect(await health()).toMatchObject({ status: 'ok', db: 'ok', redis: 'ok' });
  }, 900_000);
});

describe('leaves nothing', () => {
  it('deprovisions with nothing left on any node (stack, secrets of every version, pins, volumes)', async () => {
    const r = await h.cli(['deprovision', tenant, '--yes', '--json'], { timeoutMs: 300_000 });
    expect(r.exitCode, r.why).toBe(0);
    expect(await swarmLeftovers(manager, project())).toEqual([]);
  }, 300_000);

  it('a volume of its stack that no row accounts for, on any node, is refused at provision (exit 5), not taken as its data', async () => {
    const node = fleet.engines[2]!;
    await node.docker(['volume', 'create', '--label', `com.docker.stack.namespace=${project()}`, `${project()}_db-data`]);
    try {
      const r = await h.cli(['provision', tenant, '--host', 'swarm1', '--json']);
      expect(r.exitCode, r.why).toBe(5);
      expect(r.json().error.message).toContain(`${node.name}/${project()}_db-data`);
      expect(await manager.docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${project()}`])).toBe('');
    } finally {
      await node.docker(['volume', 'rm', `${project()}_db-data`]);
    }
  }, 120_000);
});
