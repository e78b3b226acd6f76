// Secrets reach the tenant's containers as files, never as environment variables: `docker inspect`
// of every container and the environment and command line of every process in it hold none of the
// tenant's four secrets; on the host they are customers/<id>/secrets/<NAME> (0600 in a 0700
// folder), and each service's own copies in secrets/user-<uid>-<gid>/ (0400, owned by the uid it
// starts as: no service starts as root); inside a container only the service's own user can read
// its secrets, and no other service's user can. Both compose flavours: v2 (the default) and
// docker-compose 1.29 (TENANTCTL_COMPOSE=v1), one tenant each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { containerOf, createHarness, dockerExec, inspect, type Harness } from './harness.js';

const secretNames = ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'] as const;
type Secrets = Record<(typeof secretNames)[number], string>;

/** Each service: its user (name, uid, gid: it starts as it), and the secrets it is given. */
const services = {
  db: { user: 'postgres', uid: 70001, gid: 70001, secrets: ['DB_PASSWORD', 'APP_DB_PASSWORD'] },
  redis: { user: 'redis', uid: 70002, gid: 70002, secrets: ['REDIS_PASSWORD'] },
  app: { user: 'app', uid: 70003, gid: 70003, secrets: ['APP_DB_PASSWORD', 'JWT_SECRET', 'REDIS_PASSWORD'] },
  worker: { user: 'app', uid: 70003, gid: 70003, secrets: ['APP_DB_PASSWORD', 'JWT_SECRET', 'REDIS_PASSWORD'] },
} as const;
/** The uids of every service, each tried against the others' secrets. */
const serviceUids = [...new Set(Object.values(services).map((s) => s.uid))];

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
    const copyDirs = [...new Set(Object.values(services).map((s) => `user-${s.uid}-${s.gid}`))];
    expect(readdirSync(path.join(dir, 'secrets')).sort()).toEqual([...secretNames, ...copyDirs].sort());
    const secrets = secretsOf(id);
    for (const name of secretNames) {
      expect([0o600, 0o400]).toContain(statSync(path.join(dir, 'secrets', name)).mode & 0o777);
      expect(secrets[name]).toMatch(/^[0-9A-Za-z]{32,}$/);
    }
    // Each service user's copies: exactly the secrets it reads, its own, 0400, the same values.
    for (const { uid, gid, secrets: names } of Object.values(services)) {
      const copies = path.join(dir, 'secrets', `user-${uid}-${gid}`);
      expect(statSync(copies).mode & 0o777).toBe(0o700);
      expect(readdirSync(copies).sort()).toEqual([...names].sort());
      for (const name of names) {
        const info = statSync(path.join(copies, name));
        expect([info.uid, info.gid, info.mode & 0o777], `${copies}/${name}`).toEqual([uid, gid, 0o400]);
        expect(readFileSync(path.join(copies, name), 'utf8')).toBe(secrets[name]);
      }
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
      // read every process's, as root and as the service's user. Docker's health checks now run
      // as the service's user too, and an exec being set up (runc's init) is not readable by
      // anyone for a moment: one that refuses is read again a moment later, and only a process
      // still there and still refusing is a failure.
      let seenServiceProcess = false;
      for (const as of ['root', user]) {
        const all = await execAs(container, as, ['sh', '-c',
          'me=$(id -u); for p in /proc/[0-9]*; do [ "$(stat -c %u "$p" 2>/dev/null)" = "$me" ] || continue; [ "${p#/proc/}" = "$$" ] && continue; ' +
          // Read again up to 6 times, 0.5 s apart; one still there and still refusing is named (UNREADABLE), never skipped.
          'e=; ok=; for t in 1 2 3 4 5 6 7; do if e=$(tr "\\0" "\\n" 2>/dev/null <"$p/environ"); then ok=1; break; fi; [ -e "$p" ] || break; sleep 0.5; done; ' +
          '[ -e "$p" ] || continue; [ -n "$ok" ] || { echo "UNREADABLE ${p#/proc/} $(tr "\\0" " " <"$p/cmdline" 2>/dev/null)"; continue; }; ' +
          'echo "== ${p#/proc/} $(tr "\\0" " " <"$p/cmdline")"; printf "%s\\n" "$e"; done; true']);
        expect(all.exitCode, `${service} as ${as}: ${all.stderr}`).toBe(0);
        expect(all.stderr, `${service} as ${as}`).not.toMatch(/denied/i);
        expect(all.stdout, `${service} as ${as}: a process whose environment could not be read`).not.toMatch(/^UNREADABLE /m);
        expectNoSecret(all.stdout, secrets, `${service}: the processes of ${as}`);
        if (as !== 'root' && all.stdout.includes('== ')) seenServiceProcess = true;
      }
      // The main process runs as the service's user (the entrypoint dropped root).
      expect(seenServiceProcess, `${service}: no process of ${user}`).toBe(true);
    }
  });

  it('starts every service as its own non-root user: no process of uid 0 in any container', async () => {
    for (const [service, spec] of Object.entries(services)) {
      const container = await containerOf(project(), service);
      const c = await inspect(container);
      expect(c.Config.User, service).toBe(`${spec.uid}:${spec.gid}`);
      expect(c.HostConfig.CapAdd ?? [], service).toEqual([]);
      // `docker top` lists the container's processes from the host (no user namespaces here: host
      // uid = container uid): tini, the service and its children, all as the service's uid.
      const top = await execa('docker', ['top', container, '-o', 'uid,pid,args'], { timeout: 30_000 });
      const rows = top.stdout.split('\n').slice(1).filter(Boolean).map((line) => line.trim().split(/\s+/));
      expect(rows.length, `${service}: ${top.stdout}`).toBeGreaterThan(0);
      expect(rows.filter(([uid]) => uid !== String(spec.uid)), `${service}: ${top.stdout}`).toEqual([]);
    }
  });

  it('gives each service only its own secrets, readable inside by its user and by no other service\'s user, nor nobody', async () => {
    const secrets = secretsOf(id);
    for (const [service, spec] of Object.entries(services)) {
      const container = await containerOf(project(), service);
      const mounted = await run(container, ['ls', '/run/secrets']);
      expect(mounted.stdout.split('\n').filter(Boolean).sort(), service).toEqual([...spec.secrets].sort());
      // One exec per user: each file's owner, mode and content as the service's user; each file
      // tried by every other user ("denied" or its content, which must never be a secret).
      const own = await run(container, ['sh', '-c', 'for f in "$@"; do printf "%s %s " "$f" "$(stat -c "%u:%g %a" "/run/secrets/$f")"; cat "/run/secrets/$f"; echo; done', 'own', ...spec.secrets]);
      expect(own.exitCode, `${spec.user} reads its secrets in ${service}: ${own.stderr}`).toBe(0);
      expect(own.stdout.split('\n').filter(Boolean).sort(), service).toEqual(spec.secrets.map((name) => `${name} ${spec.uid}:${spec.gid} 400 ${secrets[name as keyof Secrets]}`).sort());
      for (const as of ['nobody', ...serviceUids.filter((uid) => uid !== spec.uid).map(String)]) {
        const other = await execAs(container, as, ['sh', '-c', 'for f in "$@"; do if cat "/run/secrets/$f"; then echo "READ $f"; fi; done; true', 'other', ...spec.secrets]);
        expect(other.exitCode, `${as} in ${service}: ${other.stderr}`).toBe(0);
        expect(other.stdout, `${as} reads a secret of ${service}`).not.toMatch(/READ/);
        expect(other.stderr.match(/Permission denied/g)?.length ?? 0, `${as} in ${service}: ${other.stderr}`).toBe(spec.secrets.length);
        expectNoSecret(other.stdout, secrets, `${as}'s cat of /run/secrets/* in ${service}`);
      }
    }
    // Redis's generated config (requirepass) is on its tmpfs, its own.
    const redis = await containerOf(project(), 'redis');
    expect((await run(redis, ['stat', '-c', '%u %a', '/run/tenantctl/redis.conf'])).stdout.trim()).toBe('70002 600');
    expect((await execAs(redis, 'nobody', ['cat', '/run/tenantctl/redis.conf'])).exitCode).not.toBe(0);
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
