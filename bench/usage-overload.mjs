// Does the front door lose usage counts under overload? Floods the keyed door with wrk (64
// keep-alive connections) in three phases: plain, with `frontdoor reload` in the middle, and with
// the gateway restarted (docker restart) in the middle. After each it waits until
// admin_api_usage stops changing (no change for 5 s) and compares what was added with wrk's own
// count of answers: usage's requests without a 4xx/5xx class against wrk's 2xx, and in total.
// wrk stops with requests in flight: those nginx still answers are logged (200, or 499 when wrk
// had closed first) but not in wrk's count, so usage may exceed wrk by at most the connections.
//
//   npm run build && node bench/usage-overload.mjs
// Settings: BENCH_SECONDS (per phase, default 20), BENCH_CONNECTIONS (default 64).
import { readFileSync } from 'node:fs';
import { adminDbConfig, cli, doorBenchEnvironment, pgClient, sleep } from './environment.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const { bench, ports } = await doorBenchEnvironment('fdusage');
// nginx's own request log (stdout) too: the keyed requests it answered, by status, to compare with usage exactly.
bench.env.TENANTCTL_FRONTDOOR_ACCESS_LOG = 'true';
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
let failed = false;
try {
  const tenant = JSON.parse((await bench.run('node', [cli, 'provision', 'bench', '--plan', 'enterprise', '--json'])).stdout);
  await bench.run('node', [cli, 'frontdoor', 'init', '--self-signed', '--json']);
  const host = 'bench.tenants.localhost';
  const admin = pgClient(adminDbConfig(bench.env), 'the usage bench\'s admin database client');
  await admin.connect();
  const totals = async () => (await admin.query(`SELECT COALESCE(sum(request_count), 0)::bigint AS n, COALESCE(sum(responses_4xx), 0)::bigint AS c4, COALESCE(sum(responses_5xx), 0)::bigint AS c5 FROM admin_api_usage WHERE customer_id = 'bench'`)).rows[0];
  const settled = async () => {
    let last = JSON.stringify(await totals());
    for (let still = 0; still < 5;) {
      await sleep(1_000);
      const now = JSON.stringify(await totals());
      still = now === last ? still + 1 : 0;
      last = now;
    }
    const t = JSON.parse(last);
    return { n: Number(t.n), c4: Number(t.c4), c5: Number(t.c5) };
  };
  const wrk = (url) => bench.run('wrk', ['-t2', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-H', `Host: ${host}`, '-H', `Authorization: Bearer ${tenant.initialApiKey.key}`, url]);
  /** Keyed requests in nginx's request log since `since` (ISO), by status. Docker keeps 3 x 10 MB of it: read after each phase. */
  const logged = async (since) => {
    const out = (await bench.run('docker', ['logs', '--since', since, `${bench.prefix}fd-nginx`], { reject: false, all: true, maxBuffer: 1e9 })).stdout;
    const byStatus = {};
    for (const line of out.split('\n')) {
      const m = /"tenant":"bench".*"status":(\d+).*"key_id":"([^"]*)"/.exec(line);
      if (m && m[2]) byStatus[m[1]] = (byStatus[m[1]] ?? 0) + 1;
    }
    return byStatus;
  };
  const timedRun = async (...args) => { const t = Date.now(); await bench.run(...args); return `${args[1].slice(1, 3).join(' ') || args[1][0]} took ${((Date.now() - t) / 1000).toFixed(1)} s`; };
  const phases = {
    plain: async () => {},
    'frontdoor reload': async () => { await sleep(seconds * 500); return timedRun('node', [cli, 'frontdoor', 'reload', '--json']); },
    'gateway restart': async () => { await sleep(seconds * 500); return timedRun('docker', ['restart', `${bench.prefix}fd-gateway`]); },
  };
  for (const [name, disturb] of Object.entries(phases)) {
    const before = await settled();
    const started = Date.now();
    const since = new Date(started).toISOString();
    const [run, disturbed] = await Promise.all([wrk(`http://127.0.0.1:${ports.http}/api/ping`), disturb()]);
    const out = run.stdout;
    const total = Number(/(\d+) requests in/.exec(out)[1]);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    const socketErrors = /Socket errors: (.*)/.exec(out)?.[1] ?? 'none';
    const after = await settled();
    const nginxSaw = await logged(since);
    const nginxTotal = Object.values(nginxSaw).reduce((a, b) => a + b, 0);
    const added = { n: after.n - before.n, c4: after.c4 - before.c4, c5: after.c5 - before.c5 };
    const unclassed = added.n - added.c4 - added.c5;
    const ok2xx = total - non2xx;
    const exact = unclassed >= ok2xx && unclassed - ok2xx <= connections && nginxTotal === added.n;
    if (!exact) failed = true;
    console.log(`${name}: wrk ${total} answers (${ok2xx} 2xx, ${non2xx} other; socket errors ${socketErrors}); usage added ${added.n} (${unclassed} without class, ${added.c4} 4xx, ${added.c5} 5xx), settled ${((Date.now() - started) / 1000).toFixed(0)} s after the start; 2xx ${exact ? 'all counted' : `NOT all counted (${ok2xx - unclassed} more 2xx than counted)`}; nginx's log: ${nginxTotal} keyed ${JSON.stringify(nginxSaw)} (usage ${nginxTotal === added.n ? 'equal' : 'NOT equal'}); ${disturbed ?? ''}; load ${load()}`);
  }
  await admin.end();
  const logs = await bench.run('docker', ['logs', `${bench.prefix}fd-nginx`], { reject: false, all: true });
  const alerts = logs.all.split('\n').filter((l) => /\[(alert|crit|emerg|error)\]/.test(l));
  console.log(`nginx alerts/errors: ${alerts.length}\n${alerts.slice(0, 8).join('\n')}`);
  const gw = await bench.run('docker', ['logs', `${bench.prefix}fd-gateway`], { reject: false, all: true });
  console.log(`gateway warnings:\n${gw.all.split('\n').filter((l) => /warn|error/.test(l)).slice(0, 10).join('\n')}`);
} finally {
  await bench.cleanup();
}
process.exit(failed ? 1 : 0);
