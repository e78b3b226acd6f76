#!/usr/bin/env node
// What does one idle tenant cost? Brings up ONE default tenant stack (app, worker, PostgreSQL,
// Redis) from templates/crm/docker-compose.tenant.yml rendered with the default values (plan
// "standard", 30 s health checks, generated secrets), waits until it answers the way tenantctl's
// readiness probes ask (PostgreSQL login as tenant_app, Redis AUTH + PING, GET /api/ready, the
// worker's heartbeat key), lets it settle, then measures each container's CPU from the kernel's
// cgroup accounting (cgroup v1 cpuacct.usage or v2 cpu.stat usage_usec) over the idle window and
// its memory (as `docker stats` counts it: usage without inactive page cache).
//
// Beside it, in the same run, the baseline: the same template with 1 s health checks, as the
// stack was first provisioned, so the figures compare on any machine. Targets (issue 7): an idle
// default tenant at most 1% of one core and 120 MiB in total.
//
// Usage: node bench/idle-cost.mjs
//   BENCH_IDLE_SECONDS   the measured idle window (default 60)
//   BENCH_SETTLE_SECONDS idle time before measuring (default 10)
//   BENCH_BASELINE=0     skip the 1 s baseline
//   TENANTCTL_APP_IMAGE, TENANTCTL_POSTGRES_IMAGE, TENANTCTL_REDIS_IMAGE  images (default
//                        tenantctl/app:latest, tenantctl/postgres:15, tenantctl/redis:7)
//   BENCH_TEMPLATE       another template file (default the repository's)
// Everything it creates carries the label tenantctl.bench=<run id> and is removed by that label
// afterwards, also when it fails or is interrupted. Its stacks are labelled
// tenantctl.managed=bench, not "true", so a tenantctl on the same host does not take them for
// tenants.
import { execa } from 'execa';
import getPort, { portNumbers } from 'get-port';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { onInterrupt, pgClient, removeDockerObjects, sleep, substitutePlaceholders, sweepUntilGone } from './environment.mjs';
import { cgroupV2, measureIdle } from './cgroup.mjs';

const root = path.resolve(import.meta.dirname, '..');
const templateFile = process.env.BENCH_TEMPLATE ?? path.join(root, 'templates', 'crm', 'docker-compose.tenant.yml');
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const settleSeconds = Number(process.env.BENCH_SETTLE_SECONDS ?? 10);
const withBaseline = process.env.BENCH_BASELINE !== '0';
const readyDeadlineMs = 180_000;
const images = {
  app: process.env.TENANTCTL_APP_IMAGE ?? 'tenantctl/app:latest',
  postgres: process.env.TENANTCTL_POSTGRES_IMAGE ?? 'tenantctl/postgres:15',
  redis: process.env.TENANTCTL_REDIS_IMAGE ?? 'tenantctl/redis:7',
};
// The "standard" plan, tenantctl's default (src: plan resources).
const standardPlan = { app_memory: '512m', worker_memory: '256m', db_memory: '1g', redis_memory: '256m', redis_maxmemory: '192mb', app_cpus: '1.0', db_cpus: '1.0', pids_limit: '512' };
const heartbeatKey = 'tenantctl:worker:heartbeat';

const runId = `idlecost${Date.now().toString(36)}`;
const workDir = mkdtempSync(path.join(tmpdir(), 'tenantctl-idle-cost-'));
const composeCmd = (await execa('docker', ['compose', 'version'], { reject: false })).exitCode === 0 ? ['docker', 'compose'] : ['docker-compose'];
const secret = () => randomBytes(24).toString('base64url');
const stacks = [];

// ---- rendering -------------------------------------------------------------------------------

/** A /24 in 10.250.0.0/16 that no Docker network uses yet. */
async function freeSubnet(taken) {
  const ids = (await execa('docker', ['network', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  const used = new Set(taken);
  if (ids.length) {
    const out = (await execa('docker', ['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', ...ids])).stdout;
    for (const subnet of out.split(/\s+/).filter(Boolean)) used.add(subnet);
  }
  const start = Math.floor(Math.random() * 200) + 20;
  for (let i = 0; i < 256; i++) {
    const subnet = `10.250.${(start + i) % 256}.0/24`;
    if (!used.has(subnet)) return subnet;
  }
  throw new Error('no free /24 in 10.250.0.0/16');
}

/** Substitutes every {{name}} in the template's keys and values (not in its comments), then relabels. */
function render(template, variables) {
  const document = parseDocument(template, { merge: true });
  if (document.errors.length) throw new Error(`template is not valid YAML: ${document.errors[0].message}`);
  const tree = substitutePlaceholders(document.toJS({ maxAliasCount: -1 }), variables);
  // Same stack, different owner: label every service, network and volume as the benchmark's.
  const relabel = (item) => {
    if (item && typeof item === 'object') item.labels = { ...item.labels, 'tenantctl.managed': 'bench', 'tenantctl.bench': runId };
  };
  for (const section of ['services', 'networks', 'volumes']) Object.values(tree[section] ?? {}).forEach(relabel);
  // A whole {{pids_limit}} is a number, as tenantctl renders it (compose refuses a string there).
  for (const service of Object.values(tree.services ?? {})) if (typeof service.pids_limit === 'string' && /^\d+$/.test(service.pids_limit)) service.pids_limit = Number(service.pids_limit);
  for (const key of Object.keys(tree)) if (key.startsWith('x-')) delete tree[key];
  return JSON.stringify(tree, null, 2); // JSON is YAML; compose reads it as such
}

async function prepare(kind, healthInterval, takenSubnets) {
  const tenantId = `${runId}${kind}`;
  const dir = path.join(workDir, kind);
  cpSync(path.join(root, 'templates', 'crm', 'initdb'), path.join(dir, 'initdb'), { recursive: true });
  const ports = { app: await getPort({ port: portNumbers(40000, 49999) }) };
  ports.db = await getPort({ port: portNumbers(40000, 49999), exclude: [ports.app] });
  ports.redis = await getPort({ port: portNumbers(40000, 49999), exclude: [ports.app, ports.db] });
  const subnet = await freeSubnet(takenSubnets);
  const secrets = { DB_PASSWORD: secret(), APP_DB_PASSWORD: secret(), REDIS_PASSWORD: secret(), JWT_SECRET: secret() };
  const compose = render(readFileSync(templateFile, 'utf8'), {
    tenant_id: tenantId,
    tenant_name: 'Idle cost benchmark',
    plan: 'standard',
    image_app: images.app,
    image_postgres: images.postgres,
    image_redis: images.redis,
    bind_address: '127.0.0.1',
    'port.app': String(ports.app),
    'port.db': String(ports.db),
    'port.redis': String(ports.redis),
    subnet,
    health_interval: healthInterval,
    ...standardPlan,
  });
  writeFileSync(path.join(dir, 'docker-compose.yml'), compose);
  // The template takes its secrets as files (compose secrets from ./secrets/<NAME>); .env too, for a
  // BENCH_TEMPLATE that still interpolates ${NAME}.
  writeFileSync(path.join(dir, '.env'), Object.entries(secrets).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  mkdirSync(path.join(dir, 'secrets'), { mode: 0o700 });
  for (const [name, value] of Object.entries(secrets)) writeFileSync(path.join(dir, 'secrets', name), value, { mode: 0o600 });
  const project = `${runId}-${kind}`;
  const args = [...composeCmd.slice(1), '-p', project, '-f', path.join(dir, 'docker-compose.yml'), '--env-file', path.join(dir, '.env')];
  const stack = { kind, healthInterval, project, dir, ports, subnet, secrets, compose: (verb, opts) => execa(composeCmd[0], [...args, ...verb], { cwd: dir, timeout: 300_000, ...opts }) };
  stacks.push(stack);
  return stack;
}

// ---- readiness: the probes tenantctl runs ---------------------------------------------------

function httpStatus(port, pathname) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

async function probes(stack) {
  const result = { db: false, redis: false, app: false, worker: false };
  const client = pgClient({ host: '127.0.0.1', port: stack.ports.db, user: 'tenant_app', password: stack.secrets.APP_DB_PASSWORD, database: 'tenant', connectionTimeoutMillis: 2_000 }, `${stack.project}'s database probe`);
  try {
    await client.connect();
    await client.query('SELECT 1');
    result.db = true;
  } catch {
    // not yet
  } finally {
    await client.end().catch(() => {});
  }
  const redis = new Redis({ host: '127.0.0.1', port: stack.ports.redis, password: stack.secrets.REDIS_PASSWORD, lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    result.redis = (await redis.ping()) === 'PONG';
    const beat = Number(await redis.get(heartbeatKey));
    result.worker = beat > 0 && Date.now() - beat < 90_000;
  } catch {
    // not yet
  } finally {
    redis.disconnect();
  }
  result.app = (await httpStatus(stack.ports.app, '/api/ready')) === 200;
  return result;
}

async function waitReady(stack, started) {
  let delay = 100;
  let last;
  while (performance.now() - started < readyDeadlineMs) {
    last = await probes(stack);
    if (Object.values(last).every(Boolean)) return performance.now() - started;
    await sleep(delay);
    delay = Math.min(delay * 2, 1_000);
  }
  const waiting = Object.entries(last ?? {}).filter(([, ok]) => !ok).map(([name]) => name);
  const logs = (await stack.compose(['logs', '--tail', '20'], { reject: false })).stdout;
  throw new Error(`${stack.project}: not ready after ${readyDeadlineMs / 1000} s (waiting for ${waiting.join(', ')})\n${logs}`);
}

// ---- measurement: cgroup accounting ---------------------------------------------------------

const measure = (stack) => measureIdle(stack.project, { idleSeconds, serviceOrder: ['app', 'worker', 'db', 'redis'] });

// ---- one stack --------------------------------------------------------------------------------

async function run(stack) {
  console.log(`[${stack.kind}] ${stack.project}: compose up (health checks every ${stack.healthInterval}; subnet ${stack.subnet}; ports app ${stack.ports.app}, db ${stack.ports.db}, redis ${stack.ports.redis})`);
  const started = performance.now();
  await stack.compose(['up', '-d']);
  const readyMs = await waitReady(stack, started);
  console.log(`[${stack.kind}] ready after ${(readyMs / 1000).toFixed(2)} s (pg login as tenant_app, redis AUTH+PING, GET /api/ready, ${heartbeatKey}); settling ${settleSeconds} s, then measuring ${idleSeconds} s`);
  await sleep(settleSeconds * 1000);
  const result = await measure(stack);
  await down(stack);
  return { ...result, readyMs };
}

async function down(stack) {
  if (stack.down) return;
  stack.down = true;
  await stack.compose(['down', '-v', '--remove-orphans', '-t', '5'], { reject: false });
}

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const stack of stacks) await down(stack).catch(() => {});
  // Whatever is left (a failed `down`, an interrupted `up`): everything carries the run's label.
  await removeDockerObjects(`label=tenantctl.bench=${runId}`);
  // Sweeps until one finds nothing: what a later pass finds may have been made late (an interrupted
  // `up`) and removed then; only what the third still finds is said to be left.
  await sweepUntilGone('idle-cost', [`label=tenantctl.bench=${runId}`]);
  rmSync(workDir, { recursive: true, force: true });
}

onInterrupt('idle-cost', { cleanup });

// ---- main -------------------------------------------------------------------------------------

function table(label, result) {
  const total = result.rows.reduce((acc, r) => ({ cpu: acc.cpu + r.cpuPercent, mem: acc.mem + r.memoryMiB }), { cpu: 0, mem: 0 });
  const lines = result.rows.map((r) => `  ${r.service.padEnd(8)} ${r.cpuPercent.toFixed(3).padStart(8)} % of a core  ${r.memoryMiB.toFixed(1).padStart(7)} MiB`);
  lines.push(`  ${'total'.padEnd(8)} ${total.cpu.toFixed(3).padStart(8)} % of a core  ${total.mem.toFixed(1).padStart(7)} MiB`);
  return { text: `${label} (ready in ${(result.readyMs / 1000).toFixed(2)} s; ${result.seconds.toFixed(1)} s measured${result.restarted.length ? `; RESTARTED: ${result.restarted.join(', ')}` : ''})\n${lines.join('\n')}`, total };
}

let exitCode = 0;
try {
  for (const image of Object.values(images)) {
    if ((await execa('docker', ['image', 'inspect', image], { reject: false })).exitCode !== 0) throw new Error(`image ${image} is missing: build it with scripts/build-images.sh`);
  }
  console.log(`idle-cost: ${idleSeconds} s idle window after ${settleSeconds} s settling; cgroup ${cgroupV2 ? 'v2' : 'v1'}; ${composeCmd.join(' ')}; images ${Object.values(images).join(', ')}`);
  const current = await prepare('default', '30s', []);
  const baseline = withBaseline ? await prepare('baseline', '1s', [current.subnet]) : undefined;
  const now = table('default template (30 s health checks)', await run(current));
  console.log(now.text);
  if (baseline) {
    const before = table('baseline: same template, 1 s health checks', await run(baseline));
    console.log(before.text);
  }
  const ok = now.total.cpu <= 1 && now.total.mem <= 120;
  console.log(`idle default tenant: ${now.total.cpu.toFixed(2)}% of one core (target <= 1%), ${now.total.mem.toFixed(0)} MiB (target <= 120 MiB): ${ok ? 'within target' : 'OVER TARGET'}`);
  if (!ok) exitCode = 1;
} catch (error) {
  console.error(`idle-cost failed: ${error.stderr || error.message}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
