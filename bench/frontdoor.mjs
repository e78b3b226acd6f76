// What the front door costs: requests per second and p50/p99 latency of a keyed API request
// through the door (nginx + the key check, over HTTPS, and over plain HTTP) beside the same request
// sent straight to the tenant app's port, with the same client in the same run.
// Targets: throughput through the door >= 0.8 x direct, p99 added <= 3 ms.
//
//   npm run build && node bench/frontdoor.mjs
//   BENCH_SECONDS (per measurement, default 3), BENCH_ROUNDS (interleaved rounds, default 5),
//   BENCH_CONCURRENCY (requests in flight, default 16), BENCH_RATE (paced requests per second, default 400)
//
// One tenant (enterprise plan; the door's rate limit raised out of the way), the front door with a
// local CA, its own ports and compose projects; everything is removed afterwards. The request is
// GET /api/bench with the tenant's key: the app answers it (a 404 of its own) without touching its
// database, so what is measured is the door, not the app. Keep-alive connections on every path
// (the client's agent and nginx's upstream keepalive), so no path pays connection or TLS set-ups.
//
// Besides the figures the targets are about, two references say where the cost is:
//   nginx static  nginx alone answering a fixed string (its loopback status server): its floor
//   door proxy    through nginx to the app without a key check (GET /bench, outside /api/)
// and for every path the CPU time each process spent per request (client, nginx, gateway, the
// engine's docker-proxy in front of the app's published port, the app), read from /proc. On a
// 2-core host every one of them shares the same two cores, so the throughput ratio can be no better
// than direct CPU / door CPU per request: that is printed as the CPU-bound ratio.
// Throughput is measured closed-loop (as fast as the host goes); at that saturation latency is only
// throughput seen from the other side (in-flight / rate) plus the host's scheduling noise. So latency
// is also measured paced: BENCH_RATE requests per second sent on a fixed schedule whatever the
// answers (latency counted from when each request was due, so a stall is not hidden), where it is
// the time the door adds to one request.
// Last, it checks that usage was counted exactly: admin_api_usage against the keyed requests sent.
import http from 'node:http';
import https from 'node:https';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import getPort from 'get-port';
import pg from 'pg';
import { benchEnvironment, cli } from './environment.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const rate = Number(process.env.BENCH_RATE ?? 400);
const host = 'bench.tenants.localhost';

/** CPU microseconds a process has used (user + system), from /proc/<pid>/stat; 0 once it is gone. */
function cpuMicros(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 1e6 / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** Host pids of a container's processes. */
async function containerPids(bench, name) {
  const top = await bench.run('docker', ['top', name, '-eo', 'pid'], { reject: false });
  return top.stdout.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
}

/** The engine's userland proxy for a published loopback port (it carries direct and proxied requests alike). */
function dockerProxyPids(port) {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return path.basename(argv[0]) === 'docker-proxy' && argv[argv.indexOf('-host-port') + 1] === String(port);
    } catch {
      return false;
    }
  });
}

/** Closed loop: `concurrency` workers, each sending the next request when the last one answered. */
async function measure(target, processes) {
  const agent = new target.module.Agent({ keepAlive: true, maxSockets: concurrency, ...(target.agentOptions ?? {}) });
  const latencies = [];
  const statuses = new Map();
  let sent = 0;
  const one = () => new Promise((resolve, reject) => {
    const started = performance.now();
    sent++;
    const request = target.module.request({ ...target.request, agent }, (response) => {
      response.resume();
      response.on('end', () => {
        latencies.push(performance.now() - started);
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        resolve();
      });
    });
    request.on('error', reject);
    request.end();
  });
  // Warm-up: connections and TLS sessions are opened before the clock starts.
  await Promise.all(Array.from({ length: concurrency }, one));
  latencies.length = 0;
  statuses.clear();
  const cpuBefore = cpuSnapshot(processes);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) await one();
  }));
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = cpuSnapshot(processes);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const cpu = Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, (cpuAfter[k] - cpuBefore[k]) / latencies.length]));
  return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), statuses: Object.fromEntries(statuses), sent, cpu };
}

/** Open loop: `rate` requests per second on a fixed schedule, latency from each request's due time. */
async function measurePaced(target) {
  const agent = new target.module.Agent({ keepAlive: true, maxSockets: 256 });
  const latencies = [];
  let sent = 0;
  const one = (due) => new Promise((resolve) => {
    sent++;
    const request = target.module.request({ ...target.request, agent }, (response) => {
      response.resume();
      response.on('end', () => { latencies.push(performance.now() - due); resolve(); });
    });
    request.on('error', () => resolve());
    request.end();
  });
  await Promise.all(Array.from({ length: concurrency }, () => one(performance.now())));
  latencies.length = 0;
  const started = performance.now();
  const total = Math.round(rate * seconds);
  const pending = [];
  let next = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      for (; next < total && started + (next * 1000) / rate <= now; next++) pending.push(one(started + (next * 1000) / rate));
      if (next >= total) { clearInterval(timer); resolve(); }
    }, 1);
  });
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { p50: at(0.5), p99: at(0.99), sent };
}

function cpuSnapshot(processes) {
  const snapshot = { client: (({ user, system }) => user + system)(process.cpuUsage()) };
  for (const [name, pids] of Object.entries(processes)) snapshot[name] = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  return snapshot;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const bench = await benchEnvironment('fdbench');
const ports = { http: await getPort(), https: await getPort(), gateway: await getPort() };
Object.assign(bench.env, {
  TENANTCTL_FRONTDOOR_PROJECT: `${bench.prefix}fd`,
  TENANTCTL_FRONTDOOR_LISTEN_ADDRESS: '127.0.0.1',
  TENANTCTL_FRONTDOOR_HTTP_PORT: String(ports.http),
  TENANTCTL_FRONTDOOR_HTTPS_PORT: String(ports.https),
  TENANTCTL_FRONTDOOR_GATEWAY_PORT: String(ports.gateway),
  // Plain HTTP is served too (no redirect), to show TLS's share of the cost.
  TENANTCTL_FRONTDOOR_REDIRECT_HTTP: 'false',
  TENANTCTL_FRONTDOOR_RATE_ENTERPRISE: '100000/100000',
});
try {
  const provisioned = await bench.run('node', [cli, 'provision', 'bench', '--plan', 'enterprise', '--json']);
  const tenant = JSON.parse(provisioned.stdout);
  await bench.run('node', [cli, 'frontdoor', 'init', '--self-signed', '--json']);
  const ca = readFileSync(path.join(bench.env.TENANTCTL_STATE_DIR, 'frontdoor', 'tls', 'ca.crt'));
  const headers = { authorization: `Bearer ${tenant.initialApiKey.key}` };
  const targets = {
    direct: { module: http, request: { host: '127.0.0.1', port: tenant.ports.app, path: '/api/bench', headers } },
    'nginx static': { module: http, request: { host: '127.0.0.1', port: ports.http, path: '/generation', headers: { host: 'tenantctl-status.invalid' } } },
    'door proxy': { module: http, request: { host: '127.0.0.1', port: ports.http, path: '/bench', headers: { host } } },
    'door http': { module: http, request: { host: '127.0.0.1', port: ports.http, path: '/api/bench', headers: { ...headers, host } }, keyed: true },
    'door https': { module: https, request: { host: '127.0.0.1', port: ports.https, path: '/api/bench', servername: host, ca, headers: { ...headers, host } }, keyed: true },
  };
  const appContainer = (await bench.run('docker', ['ps', '-q', '--filter', `name=${bench.prefix}`, '--filter', 'label=com.docker.compose.service=app'])).stdout.trim();
  const processes = {
    nginx: await containerPids(bench, `${bench.prefix}fd-nginx`),
    gateway: await containerPids(bench, `${bench.prefix}fd-gateway`),
    'docker-proxy': dockerProxyPids(tenant.ports.app),
    app: await containerPids(bench, appContainer),
  };
  const results = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
  let keyedSent = 0;
  const paced = { direct: [], 'door http': [], 'door https': [] };
  for (let round = 1; round <= rounds; round++) {
    for (const [name, target] of Object.entries(targets)) {
      const r = await measure(target, processes);
      results[name].push(r);
      if (target.keyed) keyedSent += r.sent;
      console.log(`round ${round}  ${name.padEnd(12)}  ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${JSON.stringify(r.statuses)}`);
    }
    for (const name of ['direct', 'door http', 'door https']) {
      const r = await measurePaced(targets[name]);
      paced[name].push(r);
      if (targets[name].keyed) keyedSent += r.sent;
      console.log(`round ${round}  ${name.padEnd(12)}  paced ${rate}/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`);
    }
  }
  const cpuNames = ['client', ...Object.keys(processes)];
  const summary = Object.fromEntries(Object.entries(results).map(([name, rs]) => [name, {
    rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)),
    cpu: Object.fromEntries(cpuNames.map((k) => [k, median(rs.map((r) => r.cpu[k]))])),
  }]));
  const cpuTotal = (name) => cpuNames.reduce((sum, k) => sum + summary[name].cpu[k], 0);
  console.log(`\nmedians over ${rounds} rounds of ${seconds} s, ${concurrency} requests in flight (${Object.keys(targets).join(', ')}):`);
  for (const [name, s] of Object.entries(summary)) {
    const cpu = cpuNames.map((k) => `${k} ${s.cpu[k].toFixed(0)}`).join(' + ');
    console.log(`  ${name.padEnd(12)}  ${s.rps.toFixed(0).padStart(6)} req/s  p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  CPU per request ${cpuTotal(name).toFixed(0)} us = ${cpu}`);
  }
  for (const name of ['door http', 'door https']) {
    const ratio = summary[name].rps / summary.direct.rps;
    const added = summary[name].p99 - summary.direct.p99;
    const cpuBound = cpuTotal('direct') / cpuTotal(name);
    console.log(`  ${name}: throughput ratio ${ratio.toFixed(2)} (target >= 0.8 ${ratio >= 0.8 ? 'met' : 'NOT met'}; CPU-bound ratio ${cpuBound.toFixed(2)}), p99 added ${added.toFixed(2)} ms (target <= 3 ms ${added <= 3 ? 'met' : 'NOT met'})`);
  }
  const pacedSummary = Object.fromEntries(Object.entries(paced).map(([name, rs]) => [name, { p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) }]));
  console.log(`\npaced at ${rate} requests per second (medians over ${rounds} rounds of ${seconds} s):`);
  for (const [name, s] of Object.entries(pacedSummary)) console.log(`  ${name.padEnd(12)}  p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms`);
  for (const name of ['door http', 'door https']) {
    const added = pacedSummary[name].p99 - pacedSummary.direct.p99;
    console.log(`  ${name}: p99 added ${added.toFixed(2)} ms at ${rate}/s (target <= 3 ms ${added <= 3 ? 'met' : 'NOT met'}), p50 added ${(pacedSummary[name].p50 - pacedSummary.direct.p50).toFixed(2)} ms`);
  }
  console.log(`  floor: nginx alone (static) is ${(cpuTotal('nginx static') - summary['nginx static'].cpu.client).toFixed(0)} us of nginx CPU per request; the door without a key check CPU-bound ratio ${(cpuTotal('direct') / cpuTotal('door proxy')).toFixed(2)}`);

  // Every keyed request through the door is counted once: admin_api_usage against what was sent (warm-ups included).
  const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(bench.env.TENANTCTL_STATE_DIR, 'admin-db.env'), 'utf8'))[1];
  const admin = new pg.Client({ host: '127.0.0.1', port: Number(bench.env.TENANTCTL_ADMIN_DB_PORT), user: 'tenantctl', password, database: 'tenantctl_admin' });
  await admin.connect();
  const counted = async () => (await admin.query(`SELECT COALESCE(sum(request_count), 0)::bigint AS n FROM admin_api_usage WHERE customer_id = 'bench'`)).rows[0].n;
  let n = 0;
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
    n = Number(await counted());
    if (n >= keyedSent) break;
  }
  await new Promise((r) => setTimeout(r, 2_500)); // one more batch: nothing counted twice
  n = Number(await counted());
  await admin.end();
  console.log(`  usage: ${n} requests counted in admin_api_usage for ${keyedSent} keyed requests sent through the door (${n === keyedSent ? 'exact' : 'NOT exact'})`);
} finally {
  await bench.run('node', [cli, 'frontdoor', 'down'], { reject: false });
  await bench.run('node', [cli, 'deprovision', 'bench', '--yes'], { reject: false });
  await bench.cleanup();
}
