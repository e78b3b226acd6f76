// What the benchmarks share: a private customers dir, state dir, compose project prefix and
// admin database for one run, the removal of everything that prefix (or a bench label) created, the
// Ctrl-C that removes it too, tenantctl --json as a call, and the few figures every report prints.
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import getPort from 'get-port';
import pg from 'pg';
import { bareProxyConf } from './bare-proxy.mjs';

export const root = path.resolve(import.meta.dirname, '..');
export const cli = path.join(root, 'bin', 'tenantctl.js');

/** tenantctl's composeProjectPrefix is 1-20 characters (src/config/schema.ts); the run's prefix is the name and 8 of time. */
export const maxProjectPrefix = 20;

export async function benchEnvironment(name) {
  const prefix = `${name}${Date.now().toString(36)}`;
  // A longer one would fail every tenantctl call of the run as bad config, after the setup.
  if (prefix.length > maxProjectPrefix) throw new Error(`bench name ${JSON.stringify(name)} is too long: its project prefix ${prefix} has ${prefix.length} characters, tenantctl takes at most ${maxProjectPrefix} (give a name of at most ${maxProjectPrefix - 8})`);
  const dir = mkdtempSync(path.join(tmpdir(), `tenantctl-${name}-`));
  const env = {
    ...process.env,
    TENANTCTL_CUSTOMERS_DIR: path.join(dir, 'customers'),
    TENANTCTL_STATE_DIR: path.join(dir, 'state'),
    TENANTCTL_PROJECT_PREFIX: prefix,
    TENANTCTL_ADMIN_PROJECT: `${prefix}-admin`,
    TENANTCTL_ADMIN_DB_PORT: String(await getPort()),
  };
  const run = (file, args, options = {}) => execa(file, args, { env, cwd: dir, timeout: 300_000, ...options });
  const composeCmd = (await execa('docker', ['compose', 'version'], { reject: false })).exitCode === 0 ? ['docker', 'compose'] : ['docker-compose'];

  let cleaning;
  /** Once however often it is called (a signal during the run's own cleanup waits for it). */
  function cleanup() {
    cleaning ??= (async () => {
      await run(composeCmd[0], [...composeCmd.slice(1), '-p', `${prefix}-admin`, '-f', path.join(root, 'docker-compose.local.yml'), 'down', '-v'], {
        reject: false,
        env: { ...env, TENANTCTL_ADMIN_DB_PASSWORD: 'unused-for-down' },
      });
      // Whatever a failed round left: everything this run created carries its unique prefix.
      await removeDockerObjects(`name=${prefix}`);
      rmSync(dir, { recursive: true, force: true });
    })();
    return cleaning;
  }

  return { dir, prefix, env, run, composeCmd, cleanup };
}

/**
 * A bench environment with a front door of its own on loopback (free ports for HTTP, HTTPS and the
 * gateway), plain HTTP served too (no redirect: TLS's share of the cost shows), and rate limits
 * far above what one bench sends (every request comes from loopback, one client address).
 */
export async function doorBenchEnvironment(name) {
  const bench = await benchEnvironment(name);
  const ports = { http: await getPort(), https: await getPort(), gateway: await getPort() };
  Object.assign(bench.env, {
    TENANTCTL_FRONTDOOR_PROJECT: `${bench.prefix}fd`,
    TENANTCTL_FRONTDOOR_LISTEN_ADDRESS: '127.0.0.1',
    TENANTCTL_FRONTDOOR_HTTP_PORT: String(ports.http),
    TENANTCTL_FRONTDOOR_HTTPS_PORT: String(ports.https),
    TENANTCTL_FRONTDOOR_GATEWAY_PORT: String(ports.gateway),
    TENANTCTL_FRONTDOOR_REDIRECT_HTTP: 'false',
    TENANTCTL_FRONTDOOR_RATE_ENTERPRISE: '100000/100000',
    TENANTCTL_FRONTDOOR_RATE_PER_ADDRESS: '100000/100000',
  });
  return { bench, ports };
}

/**
 * The bare nginx TLS reverse proxy the front door benches compare the door with, started beside a
 * door bench's door (tenant `tenant`, its door up): a proxy an operator would run in the door's
 * place, the same image, with everything the door has that is not a check copied from the door's
 * live files: the TLS profile, certificate and session cache, the worker count, the client
 * keep-alive settings and connect timeout, and the tenant's upstream block itself (the app's container address with
 * its published port as the backup, `keepalive 32`, `keepalive_timeout` below the app's idle
 * timeout: src/frontdoor/render.ts), so nginx retries a failed connection on the same terms
 * (proxy_next_upstream's default, error and timeout) on both. No key check, limits, usage log or
 * headers beyond Host and Connection. The container is named `<prefix>-bare` (the run's cleanup
 * removes it); what it is: { name, port, appAddress, conf }.
 */
export async function startBareProxy(bench, tenant, image) {
  const live = path.join(bench.env.TENANTCTL_STATE_DIR, 'frontdoor', 'conf', 'live');
  const port = await getPort();
  const { conf, appAddress } = bareProxyConf({
    doorConf: readFileSync(path.join(live, 'nginx.conf'), 'utf8'),
    serverConf: readFileSync(path.join(live, 't', tenant, 'server.conf'), 'utf8'),
    tenant,
    port,
  });
  const dir = path.join(bench.dir, 'bare');
  mkdirSync(dir);
  for (const f of ['base.crt', 'base.key']) copyFileSync(path.join(bench.env.TENANTCTL_STATE_DIR, 'frontdoor', 'tls', f), path.join(dir, f));
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const name = `${bench.prefix}-bare`;
  await bench.run('docker', ['run', '-d', '--name', name, '--network', 'host', '-v', `${dir}:/etc/bare:ro`, '--entrypoint', 'nginx', image, '-c', '/etc/bare/nginx.conf', '-g', 'daemon off;']);
  return { name, port, appAddress, conf };
}

/**
 * The lines of an nginx container's error log since `since` (an ISO time) saying that a request to
 * an upstream failed or was retried: a connect or read error, a server set aside, no live upstream.
 * A measured path must have none: a retry on the backup (the published port, through docker-proxy)
 * answers 200 but measures another path, and a proxy's 502 is the same failure seen by the client.
 */
export async function upstreamErrors(bench, container, since) {
  const logs = await bench.run('docker', ['logs', '--since', since, container], { all: true, reject: false });
  return (logs.all ?? '').split('\n').filter((line) => /upstream|no live upstreams|temporarily disabled/.test(line) && /\[(error|warn|crit|alert)\]/.test(line));
}

/**
 * A pg client (not yet connected) that never crashes the bench: a connection the server, or anything
 * between, drops while no query is running emits `error`, and an `error` event without a listener
 * is an uncaught exception (a crash: no cleanup, no report). Here the drop is kept and said: the
 * next query fails naming it as the first cause, and `lost()` says whether (and why) the connection
 * went, for a check after the last query. `what` names the client in those messages. Every pg
 * client of bench/*.mjs is made here.
 */
export function pgClient(config, what) {
  const client = new pg.Client(config);
  let lostWith;
  client.on('error', (error) => {
    lostWith ??= error;
    console.error(`${what}: the database connection was lost: ${error.message}`);
  });
  const query = client.query.bind(client);
  client.query = async (...args) => {
    if (lostWith) throw new Error(`${what}: the database connection was lost before this query: ${lostWith.message}`, { cause: lostWith });
    try {
      return await query(...args);
    } catch (error) {
      // A query that failed after the connection dropped: the drop is the first cause.
      if (lostWith && lostWith !== error) throw new Error(`${what}: the database connection was lost: ${lostWith.message} (then: ${error.message})`, { cause: lostWith });
      throw error;
    }
  };
  client.lost = () => lostWith;
  return client;
}

/** How the benches reach a run's admin database as its owner (the password from the state dir's admin-db.env). */
export function adminDbConfig(env) {
  const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(env.TENANTCTL_STATE_DIR, 'admin-db.env'), 'utf8'))[1];
  return { host: '127.0.0.1', port: Number(env.TENANTCTL_ADMIN_DB_PORT), user: 'tenantctl', password, database: 'tenantctl_admin' };
}

/**
 * A tenant's database filled for the backup benches (repository.mjs, physical.mjs): ~targetMb of
 * rows of md5 text generated inside its db container, then checkpointed (every page on disk) by the
 * superuser, since the tenant's owner is none. With `vacuum`, VACUUM (FREEZE, ANALYZE) first: a
 * freshly loaded table's pages are rewritten once more by the first reads and vacuum (hint bits,
 * visibility map, freezing), which would count as "changed" in an incremental backup.
 */
export async function fillBenchDatabase({ docker, project, targetMb, vacuum = false }) {
  const rows = Math.ceil((targetMb * 1e6) / (512 + 40));
  const db = (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=db'])).stdout.trim();
  const psql = (sql, database = 'tenant') => docker(['exec', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', 'tenant_owner', '-d', database, '-c', sql]);
  console.log(`generating ${rows.toLocaleString('en')} rows (~${targetMb} MB) inside the db container`);
  await psql(`CREATE TABLE public.bench_rows (id bigint PRIMARY KEY, payload text NOT NULL);
    INSERT INTO public.bench_rows SELECT g, ${Array.from({ length: 16 }, (_, i) => `md5(g::text || '.${i}')`).join(' || ')} FROM generate_series(1, ${rows}) g;`);
  const superuser = (await psql('SELECT rolname FROM pg_roles WHERE rolsuper AND rolcanlogin ORDER BY oid LIMIT 1')).stdout.trim();
  if (vacuum) await docker(['exec', db, 'psql', '-X', '-q', '-h', '/run/postgresql', '-U', superuser, '-d', 'tenant', '-c', 'VACUUM (FREEZE, ANALYZE)']);
  await docker(['exec', db, 'psql', '-X', '-q', '-h', '/run/postgresql', '-U', superuser, '-d', 'postgres', '-c', 'CHECKPOINT']);
  const databaseBytes = Number((await psql("SELECT pg_database_size('tenant')")).stdout.trim());
  console.log(`  database ${(databaseBytes / 1e6).toFixed(0)} MB`);
  return { db, psql, superuser, rows, databaseBytes };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const dockerCleanupTimeoutMs = 300_000;

/** Removes every container, network and volume a `docker ... --filter` matches (name=<prefix>, label=k=v); how many there were. */
export async function removeDockerObjects(filter) {
  // A hung engine fails the cleanup after 5 minutes instead of holding the run (and its Ctrl-C) forever.
  const docker = (args) => execa('docker', args, { reject: false, timeout: dockerCleanupTimeoutMs });
  const list = async (args) => (await docker([...args, '--filter', filter])).stdout.split('\n').filter(Boolean);
  const containers = await list(['ps', '-aq']);
  if (containers.length) await docker(['rm', '-fv', ...containers]);
  const networks = await list(['network', 'ls', '-q']);
  if (networks.length) await docker(['network', 'rm', ...networks]);
  const volumes = await list(['volume', 'ls', '-q']);
  if (volumes.length) await docker(['volume', 'rm', '-f', ...volumes]);
  return containers.length + networks.length + volumes.length;
}

/**
 * Removes what `filters` match until nothing is left, at most three sweeps 2 s apart: a compose
 * call cancelled by Ctrl-C can still create a container after its CLI has gone. False (and said,
 * naming `bench`) when something was still there after the third.
 */
export async function sweepUntilGone(bench, filters) {
  for (let pass = 1; pass <= 3; pass++) {
    await sleep(2_000);
    let left = 0;
    for (const filter of filters) left += await removeDockerObjects(filter);
    if (left === 0) return true;
  }
  console.error(`${bench}: Docker objects matching ${filters.join(' or ')} were still there after 3 sweeps: remove them by hand`);
  return false;
}

/**
 * On the first SIGINT or SIGTERM: says so, passes the signal on to each of `children` once (a
 * tenantctl rolls back; a second signal would make it skip that), waits for them at most `graceMs`,
 * runs `cleanup`, exits 130. Returns whether it happened, for the run's own `finally`.
 */
export function onInterrupt(bench, { children = new Set(), graceMs = 0, cleanup, what = 'removing what this run created' }) {
  const state = { interrupted: false };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      state.interrupted = true;
      console.error(`${bench}: ${signal}; ${what}`);
      void (async () => {
        for (const child of children) child.kill(signal);
        if (children.size > 0) await Promise.race([Promise.allSettled([...children]), sleep(graceMs)]);
        await cleanup();
      })().catch((error) => console.error(`cleanup failed: ${error.stack}`)).finally(() => process.exit(130));
    });
  }
  return state;
}

/** `tenantctl <args> --json` in `environment`: its parsed output, or an error with the exit code and stderr's last lines. */
export function tenantctlJson({ env, dir }, timeoutMs) {
  return async (args) => {
    const r = await execa('node', [cli, ...args, '--json'], { env, cwd: dir, timeout: timeoutMs, reject: false });
    if (r.exitCode !== 0) throw new Error(`tenantctl ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr.split('\n').slice(-5).join('\n')}`);
    return JSON.parse(r.stdout);
  };
}

/** `work()`'s value and how long it took. */
export async function timed(work) {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

export const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
export const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);

/**
 * Substitutes every {{name}} in a parsed template's keys and values (not its comments), as
 * tenantctl's renderer does; a name the caller does not define is an error naming it.
 */
export function substitutePlaceholders(tree, variables, what = 'template') {
  const substitute = (text) =>
    text.replace(/\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z][a-z0-9_-]*)?)\s*\}\}/g, (_, name) => {
      if (!(name in variables)) throw new Error(`the ${what} uses {{${name}}}, which the benchmark does not define`);
      return variables[name];
    });
  const walk = (node) => {
    if (typeof node === 'string') return substitute(node);
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [substitute(k), walk(v)]));
    return node;
  };
  return walk(tree);
}

/**
 * Runs programs as children of a benchmark, each in its own process group (a terminal's Ctrl-C
 * reaches the bench alone, and each tenantctl gets a signal exactly once: a second would make it
 * skip its rollback), remembered so the bench can pass a signal on once and wait for them.
 */
export function childRunner({ env, cwd, timeoutMs }) {
  const children = new Set();
  function run(file, args, options = {}) {
    const child = execa(file, args, { env, cwd, timeout: timeoutMs, detached: true, ...options });
    children.add(child);
    const forget = () => children.delete(child);
    child.then(forget, forget);
    return child;
  }
  return { run, children };
}
