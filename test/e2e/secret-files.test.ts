// Secrets reach the tenant's containers as files, never as environment variables: `docker inspect`
// of every container and the environment and command line of every process in it hold none of the
// tenant's four secrets; on the host they are customers/<id>/secrets/<NAME> (0600 in a 0700
// folder); inside a container only the service's own user can read its copies. Both compose
// flavours: v2 (the default) and docker-compose 1.29 (TENANTCTL_COMPOSE=v1), one tenant each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { containerOf, createHarness, dockerExec, inspect, type Harness } from './harness.js';

const secretNames = ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'] as const;
type Secrets = Record<(typeof secretNames)[number], string>;

/** Each service: its user, the secrets it is given, and where its entrypoint copies them. */
const services = {
  db: { user: 'postgres', secrets: ['DB_PASSWORD', 'APP_DB_PASSWORD'], copies: ['POSTGRES_PASSWORD', 'APP_DB_PASSWORD'] },
  redis: { user: 'redis', secrets: ['REDIS_PASSWORD'], copies: ['REDIS_PASSWORD', 'redis.conf'] },
  app: { user: 'app', secrets: ['APP_DB_PASSWORD', 'JWT_SECRET', 'REDIS_PASSWORD'], copies: ['JWT_SECRET', 'PGPASSWORD', 'REDIS_PASSWORD'] },
  worker: { user: 'app', secrets: ['APP_DB_PASSWORD', 'JWT_SECRET', 'REDIS_PASSWORD'], copies: ['JWT_SECRET', 'PGPASSWORD', 'REDIS_PASSWORD'] },
} as const;

const flavours = [
  { id: 'acme', compose: 'v2' },
  { id: 'globex', compose: 'v1' },
] as const;

let h: Harness;
const provisioned: Record<string, any> = {};

beforeAll(async () => {
  // Health checks every 2 s, so Docker's own view (the redis and app checks) is known quickly; ports
  // of its own, away from the defaults other suites on this host draw from.
  h = await createHarness('secretfiles', {
    TENANTCTL_HEALTH_INTERVAL: '2', TENANTCTL_APP_PORTS: '23100-23199', TENANTCTL_DB_PORTS: '23200-23299', TENANTCTL_REDIS_PORTS: '23300-23399',
  });
  for (const { id, compose } of flavours) {
    const env: Record<string, string> = compose === 'v1' ? { TENANTCTL_COMPOSE: 'v1' } : {};
    const result = await h.cli(['provision', id, '--json'], { env });
    if (result.exitCode !== 0) throw new Error(`provisioning ${id} with compose ${compose} failed:\n${result.why}`);
    provisioned[id] = result.json();
  }
}, 600_000);

afterAll(async () => {
  await h?.cleanup();
}, 120_000);

/** The secrets as tenantctl wrote them for the containers. */
function secretsOf(id: string): Secrets {
  const dir = path.join(h.customersDir, id, 'secrets');
  return Object.fromEntries(secretNames.map((name) => [name, readFileSync(path.join(dir, name), 'utf8')])) as Secrets;
}

function expectNoSecret(text: string, secrets: Secrets, where: string): void {
  for (const name of secretNames) expect(text.includes(secrets[name]), `${name} in ${where}`).toBe(false);
}

const run = (container: string, argv: string[]) => dockerExec(container, argv);
const execAs = (container: string, user: string, argv: string[]) =>
  execa('docker', ['exec', '-u', user, container, ...argv], { reject: false, timeout: 30_000 });

describe.each(flavours)('tenant $id through compose $compose', ({ id, compose }) => {
  const project = () => `${h.prefix}-${id}`;

  it('is active, was made by that compose, and answers /api/health with 200 (the app read its secrets)', async () => {
    expect(provisioned[id]).toMatchObject({ id, outcome: 'active' });
    const app = await inspect(await containerOf(project(), 'app'));
    expect(app.Config.Labels['com.docker.compose.version']).toMatch(compose === 'v1' ? /^1\./ : /^2\./);
    const response = await fetch(`${provisioned[id].url}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', db: 'ok', redis: 'ok' });
  });

  it('keeps the secrets on the host as one private file each, and nowhere else in customers/<id>/', async () => {
    const dir = path.join(h.customersDir, id);
    expect(statSync(path.join(dir, 'secrets')).mode & 0o777).toBe(0o700);
    expect(readdirSync(path.join(dir, 'secrets')).sort()).toEqual([...secretNames].sort());
    const secrets = secretsOf(id);
    for (const name of secretNames) {
      expect([0o600, 0o400]).toContain(statSync(path.join(dir, 'secrets', name)).mode & 0o777);
      expect(secrets[name]).toMatch(/^[0-9A-Za-z]{32,}$/);
    }
    expect(new Set(Object.values(secrets)).size).toBe(4);
    expectNoSecret(readFileSync(path.join(dir, '.env'), 'utf8'), secrets, '.env');
    expectNoSecret(readFileSync(path.join(dir, 'docker-compose.yml'), 'utf8'), secrets, 'docker-compose.yml');
    expectNoSecret(readFileSync(path.join(dir, 'CUSTOMER_MANIFEST.md'), 'utf8'), secrets, 'CUSTOMER_MANIFEST.md');
    // The sealed copy in the admin database is the same.
    const shown = await h.cli(['secrets', id, '--json']);
    expect(shown.exitCode, shown.why).toBe(0);
    expect(shown.json().secrets).toEqual(secrets);
  });

  it('shows no secret in docker inspect of any of its containers', async () => {
    const secrets = secretsOf(id);
    for (const service of Object.keys(services)) {
      const container = await inspect(await containerOf(project(), service));
      const { Env, Cmd, Entrypoint, Healthcheck } = container.Config;
      expect(Env.some((e: string) => /^(POSTGRES_PASSWORD|APP_DB_PASSWORD|REDIS_PASSWORD|PGPASSWORD|JWT_SECRET)=/.test(e)), `${service}: ${Env.join(' ')}`).toBe(false);
      expectNoSecret(JSON.stringify({ Env, Cmd, Entrypoint, Healthcheck, Args: container.Args }), secrets, `docker inspect ${service}`);
      expectNoSecret(JSON.stringify(container), secrets, `docker inspect ${service} (all of it)`);
    }
  });

  it('shows no secret in the environment or command line of any process in its containers', async () => {
    const secrets = secretsOf(id);
    for (const [service, { user }] of Object.entries(services)) {
      const container = await containerOf(project(), service);
      const pid1 = await run(container, ['cat', '/proc/1/environ']);
      expect(pid1.exitCode, `${service}: ${pid1.stderr}`).toBe(0);
      expectNoSecret(pid1.stdout, secrets, `${service} /proc/1/environ`);
      // A process's environ is readable by its own user only (no CAP_SYS_PTRACE in a container):
      // read every process's, as root and as the service's user.
      let seenServiceProcess = false;
      for (const as of ['root', user]) {
        const all = await execAs(container, as, ['sh', '-c',
          'me=$(id -u); for p in /proc/[0-9]*; do [ "$(stat -c %u "$p")" = "$me" ] || continue; [ "${p#/proc/}" = "$$" ] && continue; ' +
          'echo "== ${p#/proc/} $(tr "\\0" " " <"$p/cmdline")"; tr "\\0" "\\n" <"$p/environ"; done; true']);
        expect(all.exitCode, `${service} as ${as}: ${all.stderr}`).toBe(0);
        expect(all.stderr, `${service} as ${as}`).not.toMatch(/denied/i);
        expectNoSecret(all.stdout, secrets, `${service}: the processes of ${as}`);
        if (as !== 'root' && all.stdout.includes('== ')) seenServiceProcess = true;
      }
      // The main process runs as the service's user (the entrypoint dropped root).
      expect(seenServiceProcess, `${service}: no process of ${user}`).toBe(true);
    }
  });

  it('gives each service only its own secrets, readable inside by the service user and not by nobody', async () => {
    const secrets = secretsOf(id);
    for (const [service, spec] of Object.entries(services)) {
      const container = await containerOf(project(), service);
      const mounted = await run(container, ['ls', '/run/secrets']);
      expect(mounted.stdout.split('\n').filter(Boolean).sort(), service).toEqual([...spec.secrets].sort());
      const copies = await run(container, ['ls', '/run/tenantctl']);
      expect(copies.stdout.split('\n').filter(Boolean).sort(), service).toEqual([...spec.copies].sort());
      for (const copy of spec.copies) {
        const own = await execAs(container, spec.user, ['cat', `/run/tenantctl/${copy}`]);
        expect(own.exitCode, `${spec.user} reads /run/tenantctl/${copy} in ${service}: ${own.stderr}`).toBe(0);
        const other = await execAs(container, 'nobody', ['cat', `/run/tenantctl/${copy}`]);
        expect(other.exitCode, `nobody reads /run/tenantctl/${copy} in ${service}`).not.toBe(0);
        expectNoSecret(other.stdout, secrets, `nobody's cat of /run/tenantctl/${copy} in ${service}`);
      }
      for (const name of spec.secrets) {
        const other = await execAs(container, 'nobody', ['cat', `/run/secrets/${name}`]);
        expect(other.exitCode, `nobody reads /run/secrets/${name} in ${service}`).not.toBe(0);
        expectNoSecret(other.stdout, secrets, `nobody's cat of /run/secrets/${name} in ${service}`);
      }
    }
    const db = await containerOf(project(), 'db');
    const own = await execAs(db, 'postgres', ['cat', '/run/tenantctl/POSTGRES_PASSWORD']);
    expect(own.stdout).toBe(secrets.DB_PASSWORD);
  });

  it('has Redis require the password, and every container healthy by Docker\'s own checks', async () => {
    const redis = await containerOf(project(), 'redis');
    const anonymous = await run(redis, ['redis-cli', 'ping']);
    expect(anonymous.stdout).toMatch(/NOAUTH/);
    const deadline = Date.now() + 90_000;
    let states: Record<string, string> = {};
    for (;;) {
      states = {};
      for (const service of Object.keys(services)) states[service] = (await inspect(await containerOf(project(), service))).State.Health?.Status ?? 'none';
      if (Object.values(states).every((s) => s === 'healthy') || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    expect(states).toEqual({ db: 'healthy', redis: 'healthy', app: 'healthy', worker: 'healthy' });
  }, 120_000);
});
