#!/usr/bin/env node
// Issue 7's provisioning targets, measured in one run, several rounds, each figure beside its
// baselines:
//   (a) `tenantctl provision <id>` until it returns: the tenant is active (every service ready by
//       tenantctl's own probes, the tenant schema applied, the tenant recorded). The default
//       template, configuration and images, exactly what users run: this bench overrides no
//       template setting.
//   (b) baseline 1, the seeds' way: a bare `compose -p X -f <file> --env-file .env up -d` of the
//       template before readiness was tenantctl's own (bench/fixtures/seeds-docker-compose.tenant.yml:
//       1 s health checks, depends_on service_healthy), rendered with the same values as (a)'s
//       tenant, timed until Docker reports every container healthy: how long the seeds' script
//       waited. Target: a/b <= 0.6.
//   (c) baseline 2: a bare `compose up -d` of the very files (a) rendered (customers/<id>/: compose
//       file, .env, initdb/ and whatever else is there, e.g. secret files), followed by the same
//       probes as tenantctl (PostgreSQL login as tenant_app + SELECT 1, Redis AUTH + PING,
//       GET /api/ready = 200, the worker's heartbeat key in Redis), polled with the same backoff
//       (100 ms doubling to 1 s). Target: a/c <= 1.1.
// Each round: (a), a copy of customers/<id>/, `tenantctl deprovision`, then (b) and (c) one after
// the other, each removed before the next starts, so no two stacks start at the same time.
// The admin database is started before timing: an operator's control plane is already running.
//
// Usage: npm run build && node bench/provision-vs-compose.mjs
//   BENCH_ROUNDS                 rounds (default 3); medians are printed
//   BENCH_READY_DEADLINE_SECONDS how long (b) and (c) may take before the bench fails (default 300)
// Exit code: 0 when both targets are met, 1 when one is missed or a step fails.
//
// The bare stacks are the bench's own: project <prefix>-seeds<round> / <prefix>-probed<round>,
// free host ports from 42000-48999, a /28 in 10.252.0.0/16 (neither tenantctl's pool 10.123.0.0/16
// nor the tests'), and every service, network and volume labelled tenantctl.managed=bench (not
// "true", so a tenantctl on this host does not take them for tenants) and tenantctl.bench=<prefix>.
// They are removed by project and by that label afterwards, also on failure or Ctrl-C; the
// tenantctl side lives in bench/environment.mjs's private customers dir, state dir, project
// prefix and admin database, removed the same way.
import { execa } from 'execa';
import getPort, { portNumbers } from 'get-port';
import { Redis } from 'ioredis';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parse, parseDocument } from 'yaml';
import { benchEnvironment, childRunner, cli, onInterrupt, pgClient, removeDockerObjects, sleep, substitutePlaceholders, sweepUntilGone } from './environment.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const readyDeadlineMs = Number(process.env.BENCH_READY_DEADLINE_SECONDS ?? 300) * 1000;
const seedsTemplatePath = path.join(import.meta.dirname, 'fixtures', 'seeds-docker-compose.tenant.yml');
const seedsHealthInterval = '1s';
const heartbeatKey = 'tenantctl:worker:heartbeat'; // src/tenants/readiness.ts
const probeConnectTimeoutMs = 5_000; // src/common/timeouts.ts
const targets = { ab: 0.6, ac: 1.1 };

const environment = await benchEnvironment('bench');
const { dir, prefix, env, composeCmd } = environment;
const benchLabels = { 'tenantctl.managed': 'bench', 'tenantctl.bench': prefix };

const { run, children } = childRunner({ env, cwd: dir, timeoutMs: 300_000 });

// ---- the bare stacks' own ports, subnets, labels -----------------------------------------------

const usedPorts = new Set();
async function freePort() {
  const port = await getPort({ port: portNumbers(42000, 48999), exclude: [...usedPorts] });
  usedPorts.add(port);
  return port;
}

const ipToInt = (ip) => ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
const cidrRange = (cidr) => {
  const [ip, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipToInt(ip) / size) * size;
  return [start, start + size - 1];
};
const overlaps = (a, b) => {
  const [a0, a1] = cidrRange(a);
  const [b0, b1] = cidrRange(b);
  return a0 <= b1 && b0 <= a1;
};

/** A /28 in 10.252.0.0/16 that overlaps no Docker network's subnet (IPv4) on this host. */
async function freeSubnet() {
  const ids = (await run('docker', ['network', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  const used = ids.length
    ? (await run('docker', ['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', ...ids], { reject: false })).stdout.split(/\s+/).filter((s) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(s))
    : [];
  const start = Math.floor(Math.random() * 4096);
  for (let i = 0; i < 4096; i++) {
    const n = (start + i) % 4096;
    const subnet = `10.252.${Math.floor(n / 16)}.${(n % 16) * 16}/28`;
    if (!used.some((u) => overlaps(u, subnet))) return subnet;
  }
  throw new Error('no free /28 in 10.252.0.0/16');
}

/** The bench's labels instead of tenantctl's on every service, network and volume; no x- keys. */
function relabel(tree) {
  for (const section of ['services', 'networks', 'volumes']) {
    for (const item of Object.values(tree[section] ?? {})) {
      if (item && typeof item === 'object') item.labels = { ...benchLabels };
    }
  }
  for (const key of Object.keys(tree)) if (key.startsWith('x-')) delete tree[key];
  delete tree.name; // the project is -p's
  return tree;
}

const toJson = (tree) => JSON.stringify(tree, null, 2); // JSON is YAML: both compose flavours read it

// ---- what a tenantctl-rendered tenant folder holds ---------------------------------------------

const composeTree = (text) => parseDocument(text, { merge: true }).toJS({ maxAliasCount: -1 });

/**
 * The tenant's secrets as its rendered files hold them: KEY=VALUE lines of .env, and the files of
 * the compose file's top-level `secrets:` (name upper-cased: db_password -> DB_PASSWORD), whichever
 * the current layout uses.
 */
function readSecrets(folder, tree) {
  const secrets = {};
  const envFile = path.join(folder, '.env');
  if (existsSync(envFile)) {
    for (const line of readFileSync(envFile, 'utf8').split('\n')) {
      const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
      if (m) secrets[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
    }
  }
  for (const [name, spec] of Object.entries(tree.secrets ?? {})) {
    const file = spec?.file && path.resolve(folder, spec.file);
    if (file && existsSync(file)) secrets[name.toUpperCase()] ??= readFileSync(file, 'utf8').trim();
  }
  const missing = ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'].filter((k) => !secrets[k]);
  if (missing.length) throw new Error(`${folder}: cannot find ${missing.join(', ')} in .env or the compose file's secret files (found: ${Object.keys(secrets).join(', ') || 'nothing'})`);
  return secrets;
}

/** The values tenantctl rendered into the default template, read back from its output. */
function renderedValues(tree) {
  const s = tree.services ?? {};
  const need = (value, what) => {
    if (value === undefined || value === null || value === '') throw new Error(`the rendered compose file has no ${what}: cannot render the seeds' template with the same values`);
    return String(value);
  };
  const environmentOf = (service) => {
    const e = s[service]?.environment ?? {};
    return Array.isArray(e) ? Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) : e;
  };
  const app = environmentOf('app');
  return {
    tenant_id: need(app.TENANT_ID, 'app TENANT_ID'),
    tenant_name: need(app.TENANT_NAME, 'app TENANT_NAME'),
    plan: need(app.TENANT_PLAN, 'app TENANT_PLAN'),
    image_app: need(s.app?.image, 'app image'),
    image_postgres: need(s.db?.image, 'db image'),
    image_redis: need(s.redis?.image, 'redis image'),
    bind_address: need(String(s.app?.ports?.[0] ?? '').split(':').slice(0, -2).join(':'), 'app port binding address'),
    app_memory: need(s.app?.mem_limit, 'app mem_limit'),
    app_cpus: need(s.app?.cpus, 'app cpus'),
    worker_memory: need(s.worker?.mem_limit, 'worker mem_limit'),
    db_memory: need(s.db?.mem_limit, 'db mem_limit'),
    db_cpus: need(s.db?.cpus, 'db cpus'),
    redis_memory: need(s.redis?.mem_limit, 'redis mem_limit'),
    // The command as an argv array or inside an `sh -c` string, whichever the template uses.
    redis_maxmemory: need(/--maxmemory\s+([^\s"']+)/.exec([].concat(s.redis?.command ?? []).join(' '))?.[1], 'redis --maxmemory'),
  };
}

/** Substitutes every {{name}} in the template's keys and values (already compose-escaped values). */
function renderSeeds(template, variables) {
  return substitutePlaceholders(composeTree(template), variables, "seeds' template");
}

// ---- the bare stacks ---------------------------------------------------------------------------

const stacks = [];

function bareStack(kind, round, folder) {
  const project = `${prefix}-${kind}${round}`;
  const args = [...composeCmd.slice(1), '-p', project, '-f', path.join(folder, 'docker-compose.yml'), '--env-file', path.join(folder, '.env')];
  const stack = { kind, project, folder, ports: {}, down: false, compose: (verb, opts) => run(composeCmd[0], [...args, ...verb], { cwd: folder, ...opts }) };
  stacks.push(stack);
  return stack;
}

async function down(stack) {
  if (stack.down) return;
  stack.down = true;
  await stack.compose(['down', '-v', '--remove-orphans', '-t', '5'], { reject: false });
}

/** (b)'s folder: the tenant's folder (initdb/, secret files), the seeds' template rendered with its values, a plain .env. */
async function prepareSeeds(round, source, renderedTree, secrets) {
  const folder = path.join(dir, `seeds${round}`);
  cpSync(source, folder, { recursive: true });
  const stack = bareStack('seeds', round, folder);
  stack.ports = { app: await freePort(), db: await freePort(), redis: await freePort() };
  stack.subnet = await freeSubnet();
  const tree = renderSeeds(readFileSync(seedsTemplatePath, 'utf8'), {
    ...renderedValues(renderedTree),
    app_port: String(stack.ports.app),
    db_port: String(stack.ports.db),
    redis_port: String(stack.ports.redis),
    subnet: stack.subnet,
    health_interval: seedsHealthInterval,
  });
  writeFileSync(path.join(folder, 'docker-compose.yml'), toJson(relabel(tree)));
  // The seeds' template takes its secrets from .env by interpolation, as the seeds did.
  const names = ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'];
  writeFileSync(path.join(folder, '.env'), names.map((k) => `${k}=${secrets[k]}\n`).join(''), { mode: 0o600 });
  return stack;
}

/** (c)'s folder: the tenant's folder as rendered, with the bench's ports, subnet, project and labels. */
async function prepareProbed(round, source, renderedTree) {
  const folder = path.join(dir, `probed${round}`);
  cpSync(source, folder, { recursive: true });
  const stack = bareStack('probed', round, folder);
  const tree = structuredClone(renderedTree);
  for (const [name, service] of Object.entries(tree.services ?? {})) {
    service.ports = await Promise.all((service.ports ?? []).map(async (spec) => {
      if (typeof spec !== 'string') throw new Error(`service ${name}: long-form port ${JSON.stringify(spec)} is not handled by the bench`);
      const parts = spec.split(':');
      const port = await freePort();
      stack.ports[name] ??= port;
      return [...parts.slice(0, -2), String(port), parts.at(-1)].join(':');
    }));
    if (service.ports.length === 0) delete service.ports;
  }
  for (const network of Object.values(tree.networks ?? {})) {
    for (const config of network?.ipam?.config ?? []) {
      if (config.subnet) config.subnet = stack.subnet = await freeSubnet();
    }
  }
  writeFileSync(path.join(folder, 'docker-compose.yml'), toJson(relabel(tree)));
  // With -p given, a COMPOSE_PROJECT_NAME in .env would be ignored anyway; drop it so nothing can
  // point this stack at the tenant's project. The secrets stay exactly as rendered.
  const envFile = path.join(folder, '.env');
  if (existsSync(envFile)) writeFileSync(envFile, readFileSync(envFile, 'utf8').split('\n').filter((l) => !/^\s*COMPOSE_PROJECT_NAME\s*=/.test(l)).join('\n'), { mode: 0o600 });
  for (const service of ['db', 'redis', 'app']) if (!stack.ports[service]) throw new Error(`the rendered compose file publishes no port for ${service}`);
  return stack;
}

/** (b): Docker's own health verdicts, polled about every 100 ms, until every container is running and healthy. */
async function untilHealthy(stack, services, started) {
  for (;;) {
    const out = (await run('docker', ['ps', '-a', '--filter', `label=com.docker.compose.project=${stack.project}`, '--format', '{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}'])).stdout;
    const rows = out.split('\n').filter(Boolean).map((line) => line.split('\t'));
    if (rows.length === services && rows.every(([, state, status]) => state === 'running' && /\(healthy\)/.test(status))) return performance.now() - started;
    if (performance.now() - started > readyDeadlineMs) {
      const logs = (await stack.compose(['logs', '--tail', '20'], { reject: false })).stdout;
      throw new Error(`${stack.project}: not healthy after ${readyDeadlineMs / 1000} s: ${rows.map((r) => r.join(' ')).join('; ')}\n${logs}`);
    }
    await sleep(100);
  }
}

// (c): tenantctl's probes (src/stack/probes.ts), from outside the containers through the published ports.
async function postgresLogin(port, password) {
  const client = pgClient({ host: '127.0.0.1', port, user: 'tenant_app', password, database: 'tenant', connectionTimeoutMillis: probeConnectTimeoutMs }, `the database probe of port ${port}`);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function withRedis(port, password, use) {
  const client = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, connectTimeout: probeConnectTimeoutMs, commandTimeout: probeConnectTimeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => {});
  try {
    await client.connect();
    return await use(client);
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function httpOk(port, pathname) {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false, timeout: probeConnectTimeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve(false));
  });
}

async function untilProbesPass(stack, secrets, started) {
  const probes = {
    db: () => postgresLogin(stack.ports.db, secrets.APP_DB_PASSWORD),
    redis: () => withRedis(stack.ports.redis, secrets.REDIS_PASSWORD, async (c) => (await c.ping()) === 'PONG'),
    app: () => httpOk(stack.ports.app, '/api/ready'),
    worker: () => withRedis(stack.ports.redis, secrets.REDIS_PASSWORD, async (c) => (await c.exists(heartbeatKey)) === 1),
  };
  const ready = new Set();
  let delay = 100;
  for (;;) {
    // Like tenantctl: each round probes the services not yet ready, all at once.
    await Promise.all(Object.entries(probes).filter(([name]) => !ready.has(name)).map(async ([name, probe]) => {
      if (await probe()) ready.add(name);
    }));
    if (ready.size === Object.keys(probes).length) return performance.now() - started;
    if (performance.now() - started > readyDeadlineMs) {
      const waiting = Object.keys(probes).filter((name) => !ready.has(name));
      const logs = (await stack.compose(['logs', '--tail', '20'], { reject: false })).stdout;
      throw new Error(`${stack.project}: probes not passing after ${readyDeadlineMs / 1000} s (waiting for ${waiting.join(', ')})\n${logs}`);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 1_000);
  }
}

// ---- cleanup -----------------------------------------------------------------------------------

let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    for (const stack of stacks) await down(stack).catch(() => {});
    const label = `label=tenantctl.bench=${prefix}`;
    await removeDockerObjects(label);
    await environment.cleanup(); // the admin database, the tenants (by project prefix), the private dirs
    // By label and by name: the bare stacks and the tenants.
    await sweepUntilGone('provision-vs-compose', [label, `name=${prefix}`]);
    rmSync(dir, { recursive: true, force: true }); // again: a child cut short may have written into it late
  })();
  return cleaning;
}

const interruption = onInterrupt('provision-vs-compose', { children, graceMs: 60_000, cleanup, what: 'stopping what runs, then removing what this run created' });

// ---- main --------------------------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sec = (ms) => `${(ms / 1000).toFixed(2)} s`;
const row = (cells, widths) => cells.map((c, i) => String(c).padStart(widths[i])).join('  ');

let exitCode = 0;
try {
  console.log(`provision-vs-compose: ${rounds} round(s); ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${composeCmd.join(' ')} (${(await execa(composeCmd[0], [...composeCmd.slice(1), 'version', '--short'], { reject: false })).stdout.trim()})`);
  console.log('  a  tenantctl provision <id> until it returns (active: ready by its probes, schema applied, recorded), default template');
  console.log(`  b  bare compose up -d of the seeds' template (${seedsHealthInterval} health checks, depends_on service_healthy), same values, until Docker says every container is healthy`);
  console.log('  c  bare compose up -d of the files tenantctl rendered, then tenantctl\'s probes (100 ms doubling to 1 s) until all pass');
  await run('node', [cli, 'list', '--quiet']); // starts the admin database, outside the timing
  const results = [];
  const widths = [6, 9, 9, 9, 6, 6];
  const header = row(['round', 'a', 'b', 'c', 'a/b', 'a/c'], widths);
  for (let round = 1; round <= rounds; round++) {
    if (interruption.interrupted) break;
    const id = `t${round}`;
    let started = performance.now();
    const provision = await run('node', [cli, 'provision', id, '--quiet'], { reject: false });
    const a = performance.now() - started;
    if (provision.exitCode !== 0) throw new Error(`round ${round}: tenantctl provision ${id} failed (exit ${provision.exitCode}): ${provision.stderr || provision.stdout}`);
    const listed = JSON.parse((await run('node', [cli, 'list', '--json'])).stdout).find((t) => t.id === id);
    if (listed?.status !== 'active') throw new Error(`round ${round}: ${id} is ${listed?.status ?? 'not listed'} after provision, not active`);

    // Keep what tenantctl rendered, remove the tenant, then bring up the bare stacks one at a time.
    const saved = path.join(dir, `rendered${round}`);
    cpSync(path.join(dir, 'customers', id), saved, { recursive: true });
    await run('node', [cli, 'deprovision', id, '--yes', '--quiet']);
    const renderedTree = composeTree(readFileSync(path.join(saved, 'docker-compose.yml'), 'utf8'));
    const secrets = readSecrets(saved, renderedTree);
    const services = Object.keys(renderedTree.services).length;

    const seeds = await prepareSeeds(round, saved, renderedTree, secrets);
    started = performance.now();
    await seeds.compose(['up', '-d']);
    const b = await untilHealthy(seeds, services, started);
    await down(seeds);

    const probed = await prepareProbed(round, saved, renderedTree);
    started = performance.now();
    await probed.compose(['up', '-d']);
    const c = await untilProbesPass(probed, secrets, started);
    await down(probed);

    results.push({ a, b, c });
    if (round === 1) console.log(header);
    console.log(row([round, sec(a), sec(b), sec(c), (a / b).toFixed(2), (a / c).toFixed(2)], widths));
  }
  if (interruption.interrupted) throw new Error('interrupted');
  const a = median(results.map((r) => r.a));
  const b = median(results.map((r) => r.b));
  const c = median(results.map((r) => r.c));
  console.log(row(['median', sec(a), sec(b), sec(c), (a / b).toFixed(2), (a / c).toFixed(2)], widths));
  const passAB = a / b <= targets.ab;
  const passAC = a / c <= targets.ac;
  console.log(`a/b = ${(a / b).toFixed(2)}: tenantctl provision vs the seeds' compose up to healthy (target <= ${targets.ab}): ${passAB ? 'PASS' : 'MISS'}`);
  console.log(`a/c = ${(a / c).toFixed(2)}: tenantctl provision vs a bare compose up of its own files + the same probes (target <= ${targets.ac}): ${passAC ? 'PASS' : 'MISS'}`);
  console.log(`(ratios of the medians over ${rounds} round(s); load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  if (!passAB || !passAC) exitCode = 1;
} catch (error) {
  if (!interruption.interrupted) console.error(`provision-vs-compose failed: ${error.shortMessage ? `${error.shortMessage}\n${error.stderr ?? ''}` : error.message}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(interruption.interrupted ? 130 : exitCode);
