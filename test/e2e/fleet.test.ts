// A fleet of Docker hosts: this machine's engine plus two engines started by the test (Debian's
// dockerd in containers, test/e2e/engines.ts), registered with `hosts add` over tcp and over ssh.
// Tenants are placed on them (by --host and by the placement policy), `list` shows them across
// hosts, a stopped engine makes its tenants' commands exit 6 naming it while the others work, and
// `move` carries a tenant's rows to another engine and leaves nothing behind on the old one.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, stopwatch, type Harness } from './harness.js';
import { tenantDbThroughEngine } from './tenant-db.js';
import { startEngines, type TestEngine, type TestEngines } from './engines.js';

let h: Harness;
let fleet: TestEngines;
let tcpEngine: TestEngine;
let sshEngine: TestEngine;
const home = 'fleet-home';
const images = ['tenantctl/postgres:15', 'tenantctl/redis:7', 'tenantctl/app:latest'];
const timings: Record<string, number> = {};

const timed = stopwatch(timings);

/**
 * A connection to a tenant's database on a test engine, with its current password: through the
 * engine (docker exec), as tenantctl reaches it: a remote host does not publish it.
 */
async function tenantDb(id: string, engine: TestEngine): Promise<pg.Client> {
  const password = readFileSync(path.join(h.customersDir, id, 'secrets', 'DB_PASSWORD'), 'utf8').trim();
  return tenantDbThroughEngine(engine.tcp, { project: `${h.prefix}-${id}`, service: 'db' }, { user: 'tenant_owner', password, database: 'tenant' });
}

beforeAll(async () => {
  fleet = await timed('start two engines', () => startEngines('fleet', 2, { images }));
  [tcpEngine, sshEngine] = fleet.engines as [TestEngine, TestEngine];
  h = await createHarness('fleet', { ...fleet.sshEnv, TENANTCTL_HOST_ID: home });
}, 900_000);

afterAll(async () => {
  console.log(`fleet timings (ms): ${JSON.stringify({ ...timings, engines: fleet?.timings })}`);
  if (h) {
    for (const id of ['onhome', 'ontcp', 'placed', 'race-a', 'race-b']) await h.cli(['deprovision', id, '--yes']).catch(() => {});
    await h.cleanup();
  }
  await fleet?.cleanup();
}, 600_000);

describe('a fleet of Docker hosts', () => {
  it('hosts add registers an engine only once it answers (exit 6 and nothing recorded otherwise)', async () => {
    const tcp = await h.cli(['hosts', 'add', 'e-tcp', '--docker', tcpEngine.tcp, '--json']);
    expect(tcp.exitCode, tcp.why).toBe(0);
    expect(tcp.json().engineVersion).toMatch(/^\d+\./);
    const ssh = await h.cli(['hosts', 'add', 'e-ssh', '--docker', sshEngine.ssh, '--json']);
    expect(ssh.exitCode, ssh.why).toBe(0);

    // An address on the test's network where no engine listens.
    const nowhere = tcpEngine.tcp.replace(/\.(\d+):2375$/, '.250:2375');
    const started = performance.now();
    const bad = await h.cli(['hosts', 'add', 'e-bad', '--docker', nowhere]);
    expect(bad.exitCode, bad.why).toBe(6);
    expect(bad.stderr).toMatch(/Docker host e-bad .* does not answer.*nothing was recorded/);
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(await h.adminQuery("SELECT name FROM admin_hosts WHERE name = 'e-bad'")).toEqual([]);

    const again = await h.cli(['hosts', 'add', 'e-tcp', '--docker', tcpEngine.tcp]);
    expect(again.exitCode, again.why).toBe(5);
  }, 120_000);

  it('places tenants: --host on this machine and on the tcp engine, then the policy picks the emptiest host', async () => {
    const a = await timed('provision on this machine', () => h.cli(['provision', 'onhome', '--host', home, '--json'], { timeoutMs: 600_000 }));
    expect(a.exitCode, a.why).toBe(0);
    expect(a.json().host).toBe(home);
    const b = await timed('provision on the tcp engine', () => h.cli(['provision', 'ontcp', '--host', 'e-tcp', '--json'], { timeoutMs: 600_000 }));
    expect(b.exitCode, b.why).toBe(0);
    expect(b.json().host).toBe('e-tcp');
    // fewest-tenants (the default): home 1, e-tcp 1, e-ssh 0.
    const c = await timed('provision placed (ssh engine)', () => h.cli(['provision', 'placed', '--json'], { timeoutMs: 600_000 }));
    expect(c.exitCode, c.why).toBe(0);
    expect(c.json().host).toBe('e-ssh');
    expect(c.stderr).toContain('placed on Docker host e-ssh: fewest tenants (0)');

    const rows = await h.adminQuery('SELECT id, host FROM admin_customers ORDER BY id');
    expect(rows).toEqual([{ id: 'onhome', host: home }, { id: 'ontcp', host: 'e-tcp' }, { id: 'placed', host: 'e-ssh' }]);
    // Each stack runs on its own engine.
    expect((await tcpEngine.docker(['ps', '--filter', `label=com.docker.compose.project=${h.prefix}-ontcp`, '-q'])).split('\n').filter(Boolean)).toHaveLength(4);
    expect((await sshEngine.docker(['ps', '--filter', `label=com.docker.compose.project=${h.prefix}-placed`, '-q'])).split('\n').filter(Boolean)).toHaveLength(4);
  }, 1_800_000);

  it('list and hosts list show every host, its tenants and capacity', async () => {
    const list = await timed('list across three hosts', () => h.cli(['list', '--json']));
    expect(list.exitCode, list.why).toBe(0);
    expect(list.json().map((t: any) => [t.id, t.host, t.live])).toEqual([['onhome', home, 'running'], ['ontcp', 'e-tcp', 'running'], ['placed', 'e-ssh', 'running']]);
    const hosts = await h.cli(['hosts', 'list', '--json']);
    expect(hosts.exitCode, hosts.why).toBe(0);
    const byName = Object.fromEntries(hosts.json().hosts.map((x: any) => [x.name, x]));
    expect(Object.keys(byName).sort()).toEqual(['e-ssh', 'e-tcp', home]);
    for (const name of ['e-ssh', 'e-tcp', home]) {
      expect(byName[name].reachable, name).toBe(true);
      expect(byName[name].tenants, name).toBe(1);
      expect(byName[name].cpus, name).toBeGreaterThan(0);
      expect(byName[name].memoryBytes, name).toBeGreaterThan(0);
    }
    expect(byName[home].current).toBe(true);
  }, 120_000);

  it('two provisions placed at once by separate processes spread over the hosts (the tally is in the admin database)', async () => {
    // Every host holds one tenant: on counts read without the other's placement both would pick
    // e-ssh (ties go by name). Each placement is recorded under a lock as it is made: one gets e-ssh, the other e-tcp.
    const [a, b] = await timed('two provisions placed at once', () => Promise.all([
      h.cli(['provision', 'race-a', '--json'], { timeoutMs: 600_000 }),
      h.cli(['provision', 'race-b', '--json'], { timeoutMs: 600_000 }),
    ]));
    expect(a.exitCode, a.why).toBe(0);
    expect(b.exitCode, b.why).toBe(0);
    expect([a.json().host, b.json().host].sort()).toEqual(['e-ssh', 'e-tcp']);
    // Each placement counted until its tenant's row did; none is left to count twice.
    expect(await h.adminQuery("SELECT customer_id FROM admin_placements WHERE customer_id LIKE 'race-%'")).toEqual([]);
    for (const id of ['race-a', 'race-b']) {
      const gone = await h.cli(['deprovision', id, '--yes'], { timeoutMs: 300_000 });
      expect(gone.exitCode, gone.why).toBe(0);
    }
  }, 1_200_000);

  it('a stopped engine: its tenant exits 6 naming it, quickly, and changes nothing; the others work', async () => {
    await fleet.stop(tcpEngine);
    try {
      let started = performance.now();
      const status = await h.cli(['status', 'ontcp']);
      timings['status of a tenant on a stopped host'] = Math.round(performance.now() - started);
      expect(status.exitCode, status.why).toBe(6);
      expect(status.stderr).toContain('tenant ontcp is on Docker host e-tcp');
      const stop = await h.cli(['stop', 'ontcp']);
      expect(stop.exitCode, stop.why).toBe(6);
      expect((await h.adminQuery("SELECT status FROM admin_customers WHERE id = 'ontcp'"))[0].status).toBe('active');

      expect((await h.cli(['status', 'onhome'])).exitCode).toBe(0);
      expect((await h.cli(['status', 'placed'])).exitCode).toBe(0);

      started = performance.now();
      const list = await h.cli(['list', '--json']);
      timings['list with a stopped host'] = Math.round(performance.now() - started);
      expect(list.exitCode, list.why).toBe(0);
      expect(list.json().map((t: any) => [t.id, t.live])).toEqual([['onhome', 'running'], ['ontcp', 'unreachable'], ['placed', 'running']]);
      const hosts = await h.cli(['hosts', 'list', '--no-usage', '--json']);
      expect(hosts.json().hosts.find((x: any) => x.name === 'e-tcp').reachable).toBe(false);
      expect(performance.now() - started).toBeLessThan(30_000);
    } finally {
      await fleet.start(tcpEngine);
    }
  }, 300_000);

  it('move carries the rows written before it to the other engine and leaves nothing on the old one', async () => {
    const start = await h.cli(['start', 'ontcp'], { timeoutMs: 300_000 });
    expect(start.exitCode, start.why).toBe(0);
    const before = await tenantDb('ontcp', tcpEngine);
    await before.query('CREATE TABLE moved (n int PRIMARY KEY, what text)');
    await before.query("INSERT INTO moved SELECT n, 'row ' || n FROM generate_series(1, 500) n");
    await before.end();

    const moved = await timed('move tcp -> ssh engine', () => h.cli(['move', 'ontcp', '--to', 'e-ssh', '--json'], { timeoutMs: 900_000 }));
    expect(moved.exitCode, moved.why).toBe(0);
    expect(moved.json()).toMatchObject({ id: 'ontcp', from: 'e-tcp', to: 'e-ssh', outcome: 'moved' });
    expect((await h.adminQuery("SELECT host, status FROM admin_customers WHERE id = 'ontcp'"))[0]).toEqual({ host: 'e-ssh', status: 'active' });

    const after = await tenantDb('ontcp', sshEngine);
    const { rows } = await after.query('SELECT count(*)::int AS n, sum(n)::int AS total FROM moved');
    await after.end();
    expect(rows[0]).toEqual({ n: 500, total: 125250 });

    const project = `${h.prefix}-ontcp`;
    expect(await tcpEngine.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).toBe('');
    expect(await tcpEngine.docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`])).toBe('');
    expect(await tcpEngine.docker(['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`])).toBe('');
    expect(await h.adminQuery("SELECT state FROM admin_operations WHERE customer_id = 'ontcp' AND verb = 'move'")).toEqual([{ state: 'completed' }]);
  }, 1_200_000);

  it('drain keeps placement off a host; remove is refused while tenants remain, then works', async () => {
    const drain = await h.cli(['hosts', 'drain', 'e-ssh']);
    expect(drain.exitCode, drain.why).toBe(0);
    const refused = await h.cli(['provision', 'nope', '--host', 'e-ssh']);
    expect(refused.exitCode, refused.why).toBe(5);
    expect(refused.stderr).toContain('draining');
    const busy = await h.cli(['hosts', 'remove', 'e-ssh']);
    expect(busy.exitCode, busy.why).toBe(5);
    expect(busy.stderr).toMatch(/still holds 2 tenant\(s\): ontcp, placed/);

    expect((await h.cli(['hosts', 'remove', 'e-tcp', '--json'])).json()).toEqual({ name: 'e-tcp', outcome: 'retired' });
    for (const id of ['ontcp', 'placed']) {
      const gone = await h.cli(['deprovision', id, '--yes'], { timeoutMs: 300_000 });
      expect(gone.exitCode, gone.why).toBe(0);
    }
    expect((await h.cli(['hosts', 'remove', 'e-ssh'])).exitCode).toBe(0);
    for (const engine of [tcpEngine, sshEngine]) {
      expect(await engine.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project`])).toBe('');
      expect(await engine.docker(['volume', 'ls', '-q'])).toBe('');
    }
  }, 600_000);
});
