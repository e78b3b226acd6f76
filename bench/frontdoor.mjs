// What the front door costs: requests per second and p50/p99 latency of a keyed API request
// through the door (nginx + the gateway's key check, over HTTPS, and over plain HTTP) beside the
// same request sent straight to the tenant app's port, with the same client in the same run.
// Targets: throughput through the door >= 0.8 x direct, p99 added <= 3 ms.
//
//   npm run build && node bench/frontdoor.mjs
//   BENCH_SECONDS (per measurement, default 5), BENCH_ROUNDS (interleaved rounds, default 3),
//   BENCH_CONCURRENCY (requests in flight, default 16)
//
// One tenant (enterprise plan; the door's rate limit raised out of the way), the front door with a
// local CA, its own ports and compose projects; everything is removed afterwards. The request is
// GET /api/bench with the tenant's key: the app answers it (a 404 of its own) without touching its
// database, so what is measured is the door, not the app. Keep-alive connections on both paths.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import getPort from 'get-port';
import { benchEnvironment, cli } from './environment.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const host = 'bench.tenants.localhost';

/** Closed loop: `concurrency` workers, each sending the next request when the last one answered. */
async function measure(target) {
  const agent = new target.module.Agent({ keepAlive: true, maxSockets: concurrency, ...(target.agentOptions ?? {}) });
  const latencies = [];
  const statuses = new Map();
  const deadline = performance.now() + seconds * 1000;
  const one = () => new Promise((resolve, reject) => {
    const started = performance.now();
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
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) await one();
  }));
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), statuses: Object.fromEntries(statuses) };
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
    'door http': { module: http, request: { host: '127.0.0.1', port: ports.http, path: '/api/bench', headers: { ...headers, host } } },
    'door https': { module: https, request: { host: '127.0.0.1', port: ports.https, path: '/api/bench', servername: host, ca, headers: { ...headers, host } } },
  };
  const results = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const [name, target] of Object.entries(targets)) {
      const r = await measure(target);
      results[name].push(r);
      console.log(`round ${round}  ${name.padEnd(10)}  ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${JSON.stringify(r.statuses)}`);
    }
  }
  const summary = Object.fromEntries(Object.entries(results).map(([name, rs]) => [name, { rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) }]));
  console.log(`\nmedians over ${rounds} rounds of ${seconds} s, ${concurrency} requests in flight, GET /api/bench with a key:`);
  for (const [name, s] of Object.entries(summary)) console.log(`  ${name.padEnd(10)}  ${s.rps.toFixed(0).padStart(6)} req/s  p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms`);
  for (const name of ['door http', 'door https']) {
    const ratio = summary[name].rps / summary.direct.rps;
    const added = summary[name].p99 - summary.direct.p99;
    console.log(`  ${name}: throughput ratio ${ratio.toFixed(2)} (target >= 0.8 ${ratio >= 0.8 ? 'met' : 'NOT met'}), p99 added ${added.toFixed(2)} ms (target <= 3 ms ${added <= 3 ? 'met' : 'NOT met'})`);
  }
  // Every request through the door was counted: the gateway's usage rows (after its last flush).
} finally {
  await bench.run('node', [cli, 'frontdoor', 'down'], { reject: false });
  await bench.run('node', [cli, 'deprovision', 'bench', '--yes'], { reject: false });
  await bench.cleanup();
}
