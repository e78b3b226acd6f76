// Where the keyed door's nginx CPU goes: one door, one tenant and one bare nginx TLS proxy (as in
// bench/frontdoor.mjs), then the door's live configuration varied by hand (each variant a text
// change of the rendered files, made live with a reload), and for each variant the keyed HTTPS
// request (wrk, 16 connections) beside the bare proxy in the same round: req/s, the ratio, and the
// CPU per request of nginx, the app and the client, read from /proc as frontdoor.mjs does. Rounds
// are interleaved (every variant once per round), medians printed. A tool to find costs, not a
// verdict: the variants that remove a guarantee (no key check, no usage line, no limit) exist only
// to weigh what that part costs.
//
//   apt-get install wrk && npm run build && node bench/frontdoor-variants.mjs [variant...]
//   BENCH_SECONDS (default 3), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 16),
//   TENANTCTL_FRONTDOOR_NGINX_IMAGE (the door's and the bare proxy's image),
//   BENCH_CALLGRIND=<an image of the same nginx with valgrind> (instructions per request, below), e.g.
//     printf 'FROM tenantctl/nginx:bookworm\nRUN apt-get update && apt-get install -y valgrind\n' \
//       | docker build -t tenantctl-dev/nginx:valgrind -
//     BENCH_CALLGRIND=tenantctl-dev/nginx:valgrind node bench/frontdoor-variants.mjs base 'no key check'
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import https from 'node:https';
import { cli, doorBenchEnvironment, startBareProxy } from './environment.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const host = 'bench.tenants.localhost';
try { execFileSync('wrk', ['--version'], { stdio: 'ignore' }); } catch (error) { if (error.code === 'ENOENT') throw new Error('wrk is not installed (apt-get install wrk)'); }

const cpuMicros = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 1e6 / 100;
  } catch {
    return 0;
  }
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Text changes of the live generation's files: file name -> (text) -> text. */
const drop = (pattern) => (text) => text.split('\n').filter((line) => !pattern.test(line)).join('\n');
const fewerHeaders = /^\s*proxy_set_header (?!Host |Connection |X-Api-Key-Id |X-Tenantctl-|X-Original-|Content-Length )/;
const variants = {
  base: {},
  // What each part of the keyed path costs (guarantees removed: measurement only).
  'no usage log': { 'nginx.conf': drop(/access_log \/var\/log\/tenantctl-usage/) },
  'no key check': { 'locations.conf': drop(/^\s*auth_request(_set)? /) },
  'no key check, no log': { 'nginx.conf': drop(/access_log \/var\/log\/tenantctl-usage/), 'locations.conf': drop(/^\s*auth_request(_set)? /) },
  'no key check, no log, no limits': {
    'nginx.conf': drop(/access_log \/var\/log\/tenantctl-usage/),
    'locations.conf': drop(/^\s*auth_request(_set)? /),
    't/bench/server.conf': drop(/^\s*limit_req /),
  },
  // The app's headers the door sets beyond the bare proxy's (Host, Connection), and its response headers.
  'few proxy headers': {
    'locations.conf': drop(fewerHeaders),
    't/bench/server.conf': drop(fewerHeaders),
  },
  'no add_header': { 'locations.conf': drop(/^\s*add_header /), 't/bench/server.conf': drop(/^\s*add_header /) },
  'no canonical check': { 'locations.conf': (t) => t.replace(/if \(\$tenantctl_noncanonical\) \{\n[^\n]*\n\}/, '') },
  'cache key short': { 'locations.conf': (t) => t.replace(/proxy_cache_key "[^"]*";/, 'proxy_cache_key "$tenantctl_tenant|$http_authorization";') },
  'one auth_request_set': { 'locations.conf': drop(/^\s*auth_request_set \$tenantctl_(reason|module|throttled|suspended) /) },
  // The verdict in nginx's memory (ngx_lua's shared dict, Debian's libnginx-mod-http-lua): a hit is
  // a dictionary lookup in the access phase, no subrequest; a miss asks the gateway through the same
  // /_tenantctl/auth location. Needs an image with the module (BENCH_LUA=1). Not a candidate as it
  // stands: bookworm's ngx_lua (0.10.23) refuses ngx.location.capture in an HTTP/2 request ("http2
  // requests not supported yet"), and the door's HTTPS port speaks HTTP/2, so every miss over
  // HTTP/2 would be a 503; HTTP/1.1 clients only (wrk and the Node sender are).
  ...(process.env.BENCH_LUA === '1' ? {
    'lua verdict': {
      'nginx.conf': (t) => `load_module /usr/lib/nginx/modules/ndk_http_module.so;\nload_module /usr/lib/nginx/modules/ngx_http_lua_module.so;\n${t.replace(/^http \{$/m, 'http {\n  lua_shared_dict tenantctl_passed 16m;')}`,
      'locations.conf': (t) => t.replace(/(location \/api\/ \{\n[^]*?)(    auth_request \/_tenantctl\/auth;\n(    (#[^\n]*|auth_request_set [^\n]*)\n)*)/, (_, head) => `${head}    access_by_lua_block {
        local var = ngx.var
        local key = var.tenantctl_tenant .. "|" .. var.tenantctl_module_area .. "|" .. (var.http_authorization or "") .. "|" .. (var.http_x_api_key or "")
        local verdicts = ngx.shared.tenantctl_passed
        local id = verdicts:get(key)
        if id then
            var.tenantctl_key_id = id
            return
        end
        local res = ngx.location.capture("/_tenantctl/auth")
        local h = res.header
        if res.status == 200 then
            id = h["X-Tenantctl-Key-Id"] or ""
            var.tenantctl_key_id = id
            verdicts:set(key, id, 1)
            return
        end
        var.tenantctl_reason = h["X-Tenantctl-Reason"] or ""
        var.tenantctl_module = h["X-Tenantctl-Module"] or ""
        var.tenantctl_throttled = h["X-Tenantctl-Throttled"] or ""
        var.tenantctl_suspended = h["X-Tenantctl-Suspended"] or ""
        if res.status == 401 or res.status == 403 then return ngx.exit(res.status) end
        return ngx.exit(500)
    }
`),
    },
  } : {}),
  ...(process.env.BENCH_VARIANTS_FILE ? (await import(path.resolve(process.env.BENCH_VARIANTS_FILE))).default : {}),
};
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(variants);
for (const name of chosen) if (!(name in variants)) throw new Error(`no variant ${name}: ${Object.keys(variants).join(', ')}`);

// BENCH_DRY=<rendered generation dir>: writes each variant's files beside it (<dir>-<variant>/) and stops.
if (process.env.BENCH_DRY) {
  for (const name of chosen) {
    const out = `${process.env.BENCH_DRY}-${name.replace(/[^a-z0-9]+/g, '-')}`;
    cpSync(process.env.BENCH_DRY, out, { recursive: true });
    for (const [file, change] of Object.entries(variants[name])) writeFileSync(path.join(out, file), change(readFileSync(path.join(out, file), 'utf8')));
  }
  process.exit(0);
}
const { bench, ports } = await doorBenchEnvironment('fdvar');
let bareName;
const nginxName = `${bench.prefix}fd-nginx`;
try {
  const tenant = JSON.parse((await bench.run('node', [cli, 'provision', 'bench', '--plan', 'enterprise', '--json'])).stdout);
  await bench.run('node', [cli, 'frontdoor', 'init', '--self-signed', '--json']);
  const key = tenant.initialApiKey.key;
  const live = realpathSync(path.join(bench.env.TENANTCTL_STATE_DIR, 'frontdoor', 'conf', 'live'));
  const original = path.join(bench.dir, 'original');
  cpSync(live, original, { recursive: true });
  // The same bare proxy as bench/frontdoor.mjs's: the door's image, TLS and upstream, no checks.
  const bare = await startBareProxy(bench, 'bench', bench.env.TENANTCTL_FRONTDOOR_NGINX_IMAGE ?? 'tenantctl/nginx:bookworm');
  bareName = bare.name;
  const bareDir = path.join(bench.dir, 'bare');
  const barePort = bare.port;
  const pids = async (name) => (await bench.run('docker', ['top', name, '-eo', 'pid'])).stdout.split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
  const appContainer = (await bench.run('docker', ['ps', '-q', '--filter', `name=${bench.prefix}`, '--filter', 'label=com.docker.compose.service=app'])).stdout.trim();
  const fixed = { app: await pids(appContainer), 'bare nginx': await pids(bareName), gateway: await pids(`${bench.prefix}fd-gateway`) };
  const headers = ['-H', `Host: ${host}`, '-H', `Authorization: Bearer ${key}`];

  async function wrk(url, processes) {
    const snapshot = () => Object.fromEntries(Object.entries(processes).map(([k, list]) => [k, list.reduce((s, p) => s + cpuMicros(p), 0)]));
    const before = snapshot();
    const r = await bench.run('sh', ['-c', 'wrk "$@" && cat /proc/$$/stat', 'sh', '-t1', `-c${concurrency}`, `-d${seconds}s`, '--timeout', '5s', ...headers, url]);
    const after = snapshot();
    const out = r.stdout;
    const requests = Number(/(\d+) requests in/.exec(out)[1]);
    if (/Non-2xx|Socket errors/.test(out)) throw new Error(`${url}: ${out}`);
    const fields = out.trim().split('\n').at(-1).split(') ')[1].split(' ');
    const cpu = Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] - before[k]) / requests]));
    cpu.client = ((Number(fields[13]) + Number(fields[14])) * 1e6) / 100 / requests;
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]), cpu };
  }

  async function apply(name) {
    for (const file of ['nginx.conf', 'locations.conf', 'suspended-locations.conf', 't/bench/server.conf']) {
      const text = readFileSync(path.join(original, file), 'utf8');
      writeFileSync(path.join(live, file), (variants[name][file] ?? ((t) => t))(text));
    }
    const old = new Set(await pids(nginxName));
    await bench.run('docker', ['kill', '--signal', 'HUP', nginxName]);
    // New workers, old ones gone (they finish their connections, then exit).
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const now = await pids(nginxName);
      if (now.some((p) => !old.has(p)) && now.filter((p) => old.has(p)).length <= 2) break; // master and rotator stay
    }
    await new Promise((r) => setTimeout(r, 300));
    const check = await bench.run('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${key}`, '--resolve', `${host}:${ports.https}:127.0.0.1`, `https://${host}:${ports.https}/api/ping`], { reject: false });
    if (check.stdout !== '200') throw new Error(`variant ${name}: the keyed request answered ${check.stdout}: ${(await bench.run('docker', ['logs', '--tail', '5', nginxName], { all: true, reject: false })).all}`);
  }

  // BENCH_CALLGRIND=<image with valgrind>: instructions per request instead of CPU time, which a busy
  // shared host distorts (CPU time per request moved 2-3x between rounds there; instruction counts do
  // not). Each variant's nginx (and the bare proxy's) runs alone under callgrind, one process
  // (master_process off), twice: a warm-up of 300 keyed requests, then BENCH_CALLGRIND_REQUESTS
  // (default 200) or 6 x as many, 16 keep-alive HTTPS connections from Node. What the longer run
  // added over the shorter one, per request it added, is the figure: start-up, warm-up and the
  // connections' TLS set-ups are the same in both and cancel out.
  if (process.env.BENCH_CALLGRIND) {
    const cgImage = process.env.BENCH_CALLGRIND;
    const base = Number(process.env.BENCH_CALLGRIND_REQUESTS ?? 200);
    const outDir = path.join(bench.dir, 'callgrind');
    mkdirSync(outDir, { mode: 0o777 });
    await bench.run('docker', ['stop', nginxName]);
    await bench.run('docker', ['stop', bareName]);
    const cgName = `${bench.prefix}-cg`;
    const confDir = path.join(bench.env.TENANTCTL_STATE_DIR, 'frontdoor', 'conf');
    const tmpfs = ['/var/cache/tenantctl-auth', '/var/log/tenantctl-usage', '/var/lib/nginx', '/run'].flatMap((d) => ['--tmpfs', d]);
    const targets = {
      door: { mounts: ['-v', `${confDir}:/etc/tenantctl:ro`, ...tmpfs], conf: '/etc/tenantctl/live/nginx.conf', port: ports.https },
      bare: { mounts: ['-v', `${bareDir}:/etc/bare:ro`, ...tmpfs], conf: '/etc/bare/nginx.conf', port: barePort },
    };
    /** `count` keyed requests over 16 keep-alive connections, each answered 200, or an error. */
    async function send(port, count) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
      let sent = 0;
      const one = () => new Promise((resolve, reject) => {
        const request = https.request({ host: '127.0.0.1', port, path: '/api/ping', agent, rejectUnauthorized: false, servername: host, headers: { host, authorization: `Bearer ${key}` } }, (response) => {
          response.resume();
          response.on('end', () => (response.statusCode === 200 ? resolve() : reject(new Error(`answered ${response.statusCode}`))));
        });
        request.on('error', reject);
        request.end();
      });
      await Promise.all(Array.from({ length: 16 }, async () => { while (sent < count) { sent++; await one(); } }));
      agent.destroy();
    }
    async function instructions(label, target, count) {
      const out = `${label.replace(/[^a-z0-9]+/g, '-')}-${count}.out`;
      await bench.run('docker', ['rm', '-f', cgName], { reject: false });
      await bench.run('docker', ['run', '-d', '--name', cgName, '--network', 'host', ...target.mounts, '-v', `${outDir}:/out`, '--entrypoint', 'valgrind', cgImage,
        '--tool=callgrind', `--callgrind-out-file=/out/${out}`, 'nginx', '-g', 'daemon off; master_process off;', '-c', target.conf]);
      for (let i = 0; ; i++) {
        try {
          await send(target.port, 1);
          break;
        } catch (error) {
          if (i > 120) throw new Error(`${label}: no 200 under valgrind (${error.message}): ${(await bench.run('docker', ['logs', '--tail', '20', cgName], { all: true, reject: false })).all}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      await send(target.port, 300);
      await send(target.port, count);
      await bench.run('docker', ['kill', '--signal', 'QUIT', cgName]);
      await bench.run('docker', ['wait', cgName]);
      return Number(/^totals: (\d+)/m.exec(readFileSync(path.join(outDir, out), 'utf8'))[1]);
    }
    const perRequest = {};
    for (const name of ['bare', ...chosen]) {
      if (name !== 'bare') {
        for (const file of ['nginx.conf', 'locations.conf', 'suspended-locations.conf', 't/bench/server.conf']) {
          const text = readFileSync(path.join(original, file), 'utf8');
          writeFileSync(path.join(live, file), (variants[name][file] ?? ((t) => t))(text));
        }
      }
      const target = name === 'bare' ? targets.bare : targets.door;
      perRequest[name] = ((await instructions(name, target, base * 6)) - (await instructions(name, target, base))) / (base * 5);
      console.log(`${name.padEnd(34)} ${(perRequest[name] / 1000).toFixed(1).padStart(7)} k instructions of nginx per keyed HTTPS request${name === 'bare' ? '' : `, ${((perRequest[name] - perRequest.bare) / 1000).toFixed(1)} k over the bare proxy`}`);
    }
    await bench.run('docker', ['rm', '-f', cgName], { reject: false });
    chosen.splice(0); // nothing left for the CPU-time rounds below
  }
  const results = Object.fromEntries(chosen.map((n) => [n, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const name of chosen) {
      await apply(name);
      const processes = { nginx: await pids(nginxName), ...fixed };
      // BENCH_PERF=<variant>: nginx's worker sampled by perf during that variant's door run (last round).
      const perf = process.env.BENCH_PERF === name && round === rounds
        ? bench.run('perf', ['record', '-F', '2999', '-g', '-o', path.join(process.env.BENCH_PERF_DIR ?? bench.dir, `perf-${name.replace(/[^a-z0-9]+/g, '-')}.data`), '-p', processes.nginx.join(','), '--', 'sleep', String(seconds)], { reject: false, all: true })
        : undefined;
      const door = await wrk(`https://127.0.0.1:${ports.https}/api/ping`, processes);
      if (perf) console.log((await perf).all);
      const bare = await wrk(`https://127.0.0.1:${barePort}/api/ping`, processes);
      results[name].push({ door, bare });
      console.log(`round ${round} ${name.padEnd(34)} door ${door.rps.toFixed(0)} bare ${bare.rps.toFixed(0)} ratio ${(door.rps / bare.rps).toFixed(3)} nginx ${door.cpu.nginx.toFixed(1)} us (bare ${bare.cpu['bare nginx'].toFixed(1)}) app ${door.cpu.app.toFixed(1)} (${bare.cpu.app.toFixed(1)}) client ${door.cpu.client.toFixed(1)} (${bare.cpu.client.toFixed(1)}) gateway ${door.cpu.gateway.toFixed(2)}`);
    }
  }
  if (chosen.length > 0) console.log(`\nmedians of ${rounds} rounds of ${seconds} s, wrk -t1 -c${concurrency}, load average now ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}:`);
  if (chosen.length > 0) console.log('variant                             door/s   bare/s  ratio  nginx us/req (bare)  app us/req (bare)  client us/req (bare)');
  for (const name of chosen) {
    const rs = results[name];
    const m = (f) => median(rs.map(f));
    console.log(`${name.padEnd(34)} ${m((r) => r.door.rps).toFixed(0).padStart(7)} ${m((r) => r.bare.rps).toFixed(0).padStart(8)}  ${m((r) => r.door.rps / r.bare.rps).toFixed(3)}  ${m((r) => r.door.cpu.nginx).toFixed(1).padStart(6)} (${m((r) => r.bare.cpu['bare nginx']).toFixed(1)})       ${m((r) => r.door.cpu.app).toFixed(1)} (${m((r) => r.bare.cpu.app).toFixed(1)})        ${m((r) => r.door.cpu.client).toFixed(1)} (${m((r) => r.bare.cpu.client).toFixed(1)})`);
  }
} finally {
  if (bareName) await bench.run('docker', ['rm', '-f', bareName], { reject: false });
  await bench.run('node', [cli, 'frontdoor', 'down'], { reject: false });
  await bench.run('node', [cli, 'deprovision', 'bench', '--yes'], { reject: false });
  await bench.cleanup();
}
