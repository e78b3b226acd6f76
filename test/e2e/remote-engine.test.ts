// A crm tenant on a second Docker engine, reached over tcp and over ssh (DOCKER_HOST), exactly as
// an operator would point tenantctl at a remote host: the images are copied there by tenantctl
// (docker save | docker load, only what is missing), the tenant's secrets and initdb travel into
// volumes on that engine (nothing is bind-mounted from this machine), its app port answers at the
// engine's address, PostgreSQL and Redis are published on none of its interfaces (tenantctl reaches
// them through the engine: readiness, psql, migrate, backup, restore), and deprovision leaves
// nothing on that engine. The admin database stays on this machine (started first, then reached by URL).
import { execa } from 'execa';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './harness.js';
import { startEngines, type TestEngine, type TestEngines } from './engines.js';

let h: Harness;
let fleet: TestEngines;
const timings: Record<string, number> = {};
const images = ['tenantctl/postgres:15', 'tenantctl/redis:7', 'tenantctl/app:latest'];
/** Per tenant: the engine it is on, how it is reached, the CLI's environment for it. */
const placements: Record<string, { engine: TestEngine; endpoint: string; env: Record<string, string> }> = {};
const provisioned: Record<string, any> = {};

const secretOf = (id: string, name: string) => readFileSync(path.join(h.customersDir, id, 'secrets', name), 'utf8');
const containerOf = async (engine: TestEngine, id: string, service: string) =>
  (await engine.docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${h.prefix}-${id}`, '--filter', `label=com.docker.compose.service=${service}`])).trim();
/** A TCP connection from this machine: 'open', or why not. */
const dialFromHere = (address: string, port: number) =>
  new Promise<string>((resolve) => {
    const socket = net.connect({ host: address, port, timeout: 3_000 });
    socket.once('connect', () => { socket.destroy(); resolve('open'); });
    socket.once('timeout', () => { socket.destroy(); resolve('timeout'); });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : String(error.code)));
  });

beforeAll(async () => {
  let started = performance.now();
  fleet = await startEngines('remote', 2);
  timings.enginesMs = Math.round(performance.now() - started);
  h = await createHarness('remote', fleet.sshEnv);
  // The admin database on this machine, before any command is pointed elsewhere.
  const local = await h.cli(['list', '--json']);
  expect(local.exitCode, local.why).toBe(0);
  const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'admin-db.env'), 'utf8'))![1];
  const adminUrl = `postgres://tenantctl:${password}@127.0.0.1:${h.env.TENANTCTL_ADMIN_DB_PORT}/tenantctl_admin`;
  const [tcpEngine, sshEngine] = fleet.engines as [TestEngine, TestEngine];
  placements.overtcp = { engine: tcpEngine, endpoint: tcpEngine.tcp, env: { DOCKER_HOST: tcpEngine.tcp, TENANTCTL_HOST_ID: tcpEngine.name, TENANTCTL_ADMIN_DATABASE_URL: adminUrl } };
  placements.overssh = { engine: sshEngine, endpoint: sshEngine.ssh, env: { DOCKER_HOST: sshEngine.ssh, TENANTCTL_HOST_ID: sshEngine.name, TENANTCTL_ADMIN_DATABASE_URL: adminUrl } };

  // Both at once, each on its own engine: the images are copied by tenantctl itself.
  started = performance.now();
  const results = await Promise.all(Object.entries(placements).map(async ([id, p]) => {
    const t0 = performance.now();
    const r = await h.cli(['provision', id, '--json'], { env: p.env, timeoutMs: 600_000 });
    timings[`provision ${id} (with image copy) ms`] = Math.round(performance.now() - t0);
    return [id, r] as const;
  }));
  timings.provisionBothMs = Math.round(performance.now() - started);
  for (const [id, r] of results) {
    expect(r.exitCode, r.why).toBe(0);
    provisioned[id] = r.json();
  }
}, 900_000);

afterAll(async () => {
  console.log(`remote-engine timings: ${JSON.stringify({ ...timings, engines: fleet?.timings })}`);
  await h?.cleanup();
  await fleet?.cleanup();
}, 300_000);

describe('a tenant on a remote engine (tcp and ssh)', () => {
  it('copied the images to each engine: the same image ids as here', async () => {
    const here = (await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', ...images])).stdout;
    for (const { engine } of Object.values(placements)) {
      expect(await engine.docker(['image', 'inspect', '--format', '{{.Id}}', ...images])).toBe(here);
    }
  });

  it('runs the stack on the remote engine, nothing of it on this one', async () => {
    for (const [id, { engine }] of Object.entries(placements)) {
      const there = (await engine.docker(['ps', '--filter', `label=com.docker.compose.project=${h.prefix}-${id}`, '--format', '{{.Label "com.docker.compose.service"}}'])).split('\n').sort();
      expect(there).toEqual(['app', 'db', 'redis', 'worker']);
      const here = (await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${h.prefix}-${id}`])).stdout;
      expect(here).toBe('');
    }
  });

  it('mounts no path of this machine: secrets and initdb come from volumes on the engine, read-only', async () => {
    const { engine } = placements.overtcp!;
    const db = (await engine.docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${h.prefix}-overtcp`, '--filter', 'label=com.docker.compose.service=db'])).trim();
    const mounts: Array<{ Type: string; Destination: string; RW: boolean; Name?: string }> = JSON.parse(await engine.docker(['inspect', '--format', '{{json .Mounts}}', db]));
    expect(mounts.filter((m) => m.Type === 'bind')).toEqual([]);
    const byTarget = Object.fromEntries(mounts.map((m) => [m.Destination, m]));
    expect(byTarget['/run/secrets']).toMatchObject({ Type: 'volume', RW: false });
    expect(byTarget['/docker-entrypoint-initdb.d']).toMatchObject({ Type: 'volume', RW: false });
    // Only the db's own secrets, readable by its user only (postgres, 70001: it starts as it).
    const listing = (await engine.docker(['exec', db, 'sh', '-c', 'cd /run/secrets && stat -c "%n %a %u" *'])).split('\n').sort();
    expect(listing).toEqual(['APP_DB_PASSWORD 400 70001', 'DB_PASSWORD 400 70001']);
    // The rewritten compose file names no secret value.
    const remoteFile = readFileSync(path.join(h.customersDir, 'overtcp', 'docker-compose.remote.yml'), 'utf8');
    expect(remoteFile).not.toContain(secretOf('overtcp', 'DB_PASSWORD'));
    expect(remoteFile).not.toMatch(/\.\/(initdb|secrets)/);
  });

  it('publishes only the app port on the engine: PostgreSQL and Redis are on none of its interfaces, psql reaches them through the engine', async () => {
    for (const [id, { engine, env }] of Object.entries(placements)) {
      const { ports } = provisioned[id];
      const health = await fetch(`http://${engine.address}:${ports.app}/api/health`);
      expect(await health.json()).toMatchObject({ status: 'ok', customer: id, db: 'ok', redis: 'ok' });
      // The port bindings as the remote engine holds them: the app's for the front door, nothing else.
      const bindings: Record<string, unknown> = {};
      for (const service of ['app', 'db', 'redis', 'worker']) {
        const container = await containerOf(engine, id, service);
        bindings[service] = JSON.parse(await engine.docker(['inspect', '--format', '{{json .NetworkSettings.Ports}}', container]));
      }
      // On the engine's own address (its URL's IP: no --publish-address given), not 0.0.0.0: the app checks no key itself.
      expect(bindings.app).toEqual({ '3000/tcp': [{ HostIp: engine.address, HostPort: String(ports.app) }] });
      expect(bindings.db).toEqual({ '5432/tcp': null });
      expect(bindings.redis).toEqual({ '6379/tcp': null });
      // From this machine and from another container on the engine (its own network namespace, the
      // way another tenant would try): the recorded db and redis ports answer nowhere, the app's does.
      expect(await dialFromHere(engine.address, ports.db)).toBe('refused');
      expect(await dialFromHere(engine.address, ports.redis)).toBe('refused');
      const gateway = (await engine.docker(['network', 'inspect', 'bridge', '--format', '{{(index .IPAM.Config 0).Gateway}}'])).trim();
      const dial = (address: string, port: number) => `exec 3<>/dev/tcp/${address}/${port} && echo open || echo closed`;
      // The app's port at the engine's address is the control: the same dial from the same place opens.
      const probe = [...[ports.db, ports.redis].flatMap((port) => [gateway, engine.address].map((address) => dial(address, port))), dial(engine.address, ports.app)].join('; ');
      const answers = (await engine.docker(['run', '--rm', '--entrypoint', 'bash', images[0]!, '-c', `${probe} 2>/dev/null`])).split('\n');
      expect(answers).toEqual(['closed', 'closed', 'closed', 'closed', 'open']);
      // The auditor's count (scripts/hardening-check.mjs) on that engine: only the app's port is
      // outside loopback (the front door's, on purpose); before, db and redis failed it too.
      const audit = JSON.parse((await execa('node', [path.join(import.meta.dirname, '..', '..', 'scripts', 'hardening-check.mjs'), `${h.prefix}-${id}`, '--json'], { env: { DOCKER_HOST: engine.tcp }, reject: false })).stdout);
      timings[`hardening ${id}`] = audit.passing;
      const failing = Object.fromEntries(audit.containers.map((c: { container: string; failed: string[] }) => [c.container.replace(`${h.prefix}-${id}-`, ''), c.failed.filter((check) => check === 'loopbackPorts')]));
      expect(failing).toEqual({ 'app-1': ['loopbackPorts'], 'db-1': [], 'redis-1': [], 'worker-1': [] });
      // psql as the owner and as the app, through tenantctl (docker exec on that engine).
      for (const [as, user] of [['owner', 'tenant_owner'], ['app', 'tenant_app']] as const) {
        const r = await h.cli(['psql', id, '--as', as, '--', '-At', '-c', 'SELECT current_user, (SELECT count(*) FROM crm.contacts)'], { env });
        expect(r.exitCode, r.why).toBe(0);
        expect(r.stdout.trim()).toBe(`${user}|0`);
      }
    }
  }, 120_000);

  it('hosts add --publish-address: an IP of the host, or refused (exit 2) before anything is recorded; not for a swarm', async () => {
    const { engine } = placements.overtcp!;
    const bad = await h.cli(['hosts', 'add', 'pubbad', '--docker', engine.tcp, '--publish-address', 'web.example']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--publish-address "web\.example": expected an IP address/);
    const swarm = await h.cli(['hosts', 'add', 'pubswarm', '--docker', engine.tcp, '--swarm', '--publish-address', engine.address]);
    expect(swarm.exitCode).toBe(2);
    expect(swarm.stderr).toMatch(/does not apply to a swarm/);
    expect(await h.adminQuery("SELECT name FROM admin_hosts WHERE name IN ('pubbad', 'pubswarm')")).toEqual([]);
  });

  it('runs day-2 commands there: psql through tenantctl over ssh', async () => {
    const p = placements.overssh!;
    const started = performance.now();
    const r = await h.cli(['psql', 'overssh', '--', '-At', '-c', 'SELECT 40 + 2'], { env: p.env });
    timings.psqlOverSshMs = Math.round(performance.now() - started);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.stdout).toContain('42');
  });

  it('uses one ssh connection per command: the master is gone when the command ends', async () => {
    const sshDir = path.join(h.env.TENANTCTL_STATE_DIR!, 'ssh');
    const { engine } = placements.overssh!;
    // sshd in the engine's container logs each login (test/e2e/engines/entrypoint.sh).
    const logins = async () => (await execa('docker', ['exec', engine.name, 'grep', '-c', 'Accepted publickey', '/var/log/sshd.log'], { reject: false })).stdout.trim();
    const before = Number(await logins());
    const r = await h.cli(['status', 'overssh', '--json'], { env: placements.overssh!.env });
    expect(r.exitCode, r.why).toBe(0);
    // status asks the engine several times (compose ps, inspect, ...): one ssh login for all of them.
    expect(Number(await logins()) - before).toBe(1);
    const left = await execa('sh', ['-c', `ls -A ${sshDir} 2>/dev/null || true`]);
    expect(left.stdout.trim()).toBe('');
    // And none of tenantctl's ssh masters is still running for this state dir.
    const masters = await execa('sh', ['-c', `ps -eo args | grep -F '${sshDir}' | grep -v grep || true`]);
    expect(masters.stdout.trim()).toBe('');
  });

  it('rotate-secrets reaches the remote engine: the new file is shipped, the old password stops working', async () => {
    const { engine, env } = placements.overtcp!;
    const old = secretOf('overtcp', 'REDIS_PASSWORD');
    const started = performance.now();
    const r = await h.cli(['rotate-secrets', 'overtcp', '--only', 'redis', '--json'], { env, timeoutMs: 300_000 });
    timings.rotateRedisOverTcpMs = Math.round(performance.now() - started);
    expect(r.exitCode, r.why).toBe(0);
    const fresh = secretOf('overtcp', 'REDIS_PASSWORD');
    expect(fresh).not.toBe(old);
    const redis = (await engine.docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${h.prefix}-overtcp`, '--filter', 'label=com.docker.compose.service=redis'])).trim();
    expect((await engine.docker(['exec', redis, 'cat', '/run/secrets/REDIS_PASSWORD']))).toBe(fresh);
    const health = await fetch(`http://${engine.address}:${provisioned.overtcp.ports.app}/api/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', redis: 'ok' });
    // Redis's own answer to AUTH, in its container (the port is not published): the password on stdin.
    const auth = async (password: string) => (await engine.docker(['exec', '-i', redis, 'redis-cli', '--askpass', '--no-auth-warning', 'ping'], { input: password }).catch((e) => String(e.message))).trim();
    expect(await auth(fresh)).toBe('PONG');
    // redis-cli reports the refused AUTH on stderr; the PING that follows answers NOAUTH.
    expect(await auth(old)).toMatch(/NOAUTH|WRONGPASS/);
    // The owner's password: ALTER ROLE as the server's superuser (asked of the server), over the local socket.
    const oldDb = secretOf('overtcp', 'DB_PASSWORD');
    const db = await h.cli(['rotate-secrets', 'overtcp', '--only', 'db', '--json'], { env, timeoutMs: 300_000 });
    expect(db.exitCode, db.why).toBe(0);
    expect(secretOf('overtcp', 'DB_PASSWORD')).not.toBe(oldDb);
    const psql = await h.cli(['psql', 'overtcp', '--', '-At', '-c', 'SELECT current_user'], { env });
    expect(psql.exitCode, psql.why).toBe(0);
    expect(psql.stdout.trim()).toBe('tenant_owner');
  }, 300_000);

  it('upgrades a tenant from before its template mounted ./initdb: the upgrade writes the template\'s files first', async () => {
    const { env } = placements.overtcp!;
    const initdb = path.join(h.customersDir, 'overtcp', 'initdb');
    // An older tenant's folder: no initdb/ (remote-compose ships every bind of the new render).
    rmSync(initdb, { recursive: true, force: true });
    const started = performance.now();
    const r = await h.cli(['upgrade', 'overtcp', '--plan', 'starter', '--json'], { env, timeoutMs: 300_000 });
    timings.upgradeOverTcpMs = Math.round(performance.now() - started);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ id: 'overtcp', outcome: 'upgraded' });
    expect(readdirSync(initdb).length).toBeGreaterThan(0);
    // Still only the front door's port published, and doctor finds nothing published it should not.
    const doctor = await h.cli(['doctor', '--json'], { env });
    expect(doctor.json().findings.filter((f: { kind: string }) => f.kind === 'private-port-published')).toEqual([]);
    // What an older tenant looks like to doctor: a container of its project publishing its database's
    // host port on the engine (made by hand here, as an older tenantctl's render would have).
    const { engine } = placements.overtcp!;
    const dbPort = provisioned.overtcp.ports.db;
    const older = (await engine.docker(['run', '-d', '--label', 'tenantctl.managed=true', '--label', `com.docker.compose.project=${h.prefix}-overtcp`, '--label', 'com.docker.compose.service=db-old',
      '-p', `0.0.0.0:${dbPort}:6379`, '--entrypoint', 'sleep', images[1]!, '300'])).trim();
    try {
      const found = await h.cli(['doctor', '--json'], { env });
      expect(found.json().findings.filter((f: { kind: string }) => f.kind === 'private-port-published')).toEqual([expect.objectContaining({
        tenant: 'overtcp', fixable: false, fix: expect.stringContaining('tenantctl upgrade overtcp'), detail: expect.stringContaining(`db-old db ${dbPort}`),
      })]);
    } finally {
      await engine.docker(['rm', '-f', '-v', older]); // -v: the image's anonymous /data volume too
    }
  }, 300_000);

  it('migrate, backup, restore and status work there with the database unpublished (over ssh)', async () => {
    const { env } = placements.overssh!;
    const psql = async (sql: string) => {
      const r = await h.cli(['psql', 'overssh', '--', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], { env });
      expect(r.exitCode, r.why).toBe(0);
      return r.stdout.trim();
    };
    let started = performance.now();
    const migrate = await h.cli(['migrate', 'overssh', '--json'], { env, timeoutMs: 300_000 });
    timings.migrateOverSshMs = Math.round(performance.now() - started);
    expect(migrate.exitCode, migrate.why).toBe(0);
    expect(migrate.json()).toMatchObject({ id: 'overssh', dryRun: false, migrations: [] });
    await psql("CREATE TABLE public.marker (v text); INSERT INTO public.marker VALUES ('before')");
    started = performance.now();
    const backup = await h.cli(['backup', 'overssh', '--json'], { env, timeoutMs: 300_000 });
    timings.backupOverSshMs = Math.round(performance.now() - started);
    expect(backup.exitCode, backup.why).toBe(0);
    await psql("UPDATE public.marker SET v = 'after'");
    started = performance.now();
    const restore = await h.cli(['restore', 'overssh', '--from', backup.json().id, '--yes', '--json'], { env, timeoutMs: 300_000 });
    timings.restoreOverSshMs = Math.round(performance.now() - started);
    expect(restore.exitCode, restore.why).toBe(0);
    expect(restore.json()).toMatchObject({ outcome: 'restored', mode: 'in-place' });
    expect(await psql('SELECT v FROM public.marker')).toBe('before');
    const status = await h.cli(['status', 'overssh', '--json'], { env });
    expect(status.exitCode, status.why).toBe(0);
    expect(status.json()).toMatchObject({ live: 'running', healthy: true, operation: null });
  }, 600_000);

  it('a second provision on the same engine copies no image', async () => {
    const p = placements.overtcp!;
    const started = performance.now();
    const r = await h.cli(['provision', 'second', '--plan', 'starter', '--json'], { env: p.env, timeoutMs: 600_000 });
    timings['provision second on tcp (images present) ms'] = Math.round(performance.now() - started);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.stderr).not.toMatch(/copied tenantctl\//);
    const gone = await h.cli(['deprovision', 'second', '--yes', '--json'], { env: p.env });
    expect(gone.exitCode, gone.why).toBe(0);
  });

  it('deprovisions each tenant with nothing of it left on its engine', async () => {
    for (const [id, p] of Object.entries(placements)) {
      const started = performance.now();
      const r = await h.cli(['deprovision', id, '--yes', '--json'], { env: p.env });
      timings[`deprovision ${id} ms`] = Math.round(performance.now() - started);
      expect(r.exitCode, r.why).toBe(0);
      for (const kind of [['ps', '-a'], ['volume', 'ls'], ['network', 'ls']]) {
        const left = await p.engine.docker([...kind, '-q', '--filter', `label=com.docker.compose.project=${h.prefix}-${id}`]);
        expect(left, `${kind.join(' ')} on ${p.engine.name}`).toBe('');
      }
      // Nor any helper container or volume of tenantctl's.
      expect(await p.engine.docker(['ps', '-aq', '--filter', 'label=tenantctl.managed=true'])).toBe('');
      expect(await p.engine.docker(['volume', 'ls', '-q'])).toBe('');
    }
  });
});
