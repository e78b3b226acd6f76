#!/usr/bin/env node
// What does watching cost? Provisions N real tenants (default 12) with tenantctl into a private
// admin database, then runs `tenantctl watch` (one pass per second, so a minute holds ~60 passes)
// and measures, from /proc, the CPU of the watch process and of dockerd and containerd over the
// window, against the same window with no watch running (their idle baseline; on a host shared
// with other work that difference is noisy). Then it measures dockerd's CPU for the one Docker
// question a pass asks (the container list) with 400 more managed containers created (not
// started: they cost the engine nothing but their place in the list), to see how a pass grows
// towards 100 tenants (about 400 containers), and times `docker system df -v` (what the disk
// metric asks) with the tenants' volumes there.
//
// Usage: node bench/watch-cost.mjs   (after npm run build)
//   BENCH_TENANTS  tenants provisioned (default 12)
//   BENCH_SECONDS  measured window (default 60)
// Everything carries the prefix benchwatch<time> (or its label) and is removed afterwards, also on failure.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { benchEnvironment, cli, onInterrupt, removeDockerObjects, sleep } from './environment.mjs';

const tenants = Number(process.env.BENCH_TENANTS ?? 12);
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const environment = await benchEnvironment('benchwatch');
const { dir, prefix, env } = environment;
Object.assign(env, { TENANTCTL_HEALTH_DEADLINE: '180', TENANTCTL_WATCH_INTERVAL: '1' });
const ticks = Number((await execa('getconf', ['CLK_TCK'])).stdout);
const cpuOf = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks; // utime + stime, seconds
};
const pidOf = async (name) => Number((await execa('pgrep', ['-xo', name], { reject: false })).stdout.trim()) || undefined;

/** The tenants and the admin database (by the run's prefix), and the 400 unnamed containers (by the bench label). */
async function cleanup() {
  await removeDockerObjects(`label=tenantctl.bench=${prefix}`);
  await environment.cleanup();
}
onInterrupt('watch-cost', { cleanup });

try {
  const ids = Array.from({ length: tenants }, (_, i) => `w${i + 1}`);
  let t = performance.now();
  const provision = await execa('node', [cli, 'provision', ...ids, '--concurrency', '3', '--json'], { env, cwd: dir, reject: false });
  if (provision.exitCode !== 0) throw new Error(`provision failed: ${provision.stderr.slice(-2000)}`);
  console.log(`provisioned ${tenants} tenants in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  await sleep(10_000); // let start-up settle

  const dockerd = await pidOf('dockerd');
  const containerd = await pidOf('containerd');
  const sample = () => ({ dockerd: dockerd ? cpuOf(dockerd) : 0, containerd: containerd ? cpuOf(containerd) : 0, at: performance.now() });
  // Baseline: the same window with nothing watching.
  const b0 = sample();
  await sleep(seconds * 1000);
  const b1 = sample();

  const watch = execa('node', [cli, 'watch', '--json'], { env, cwd: dir, reject: false });
  await sleep(3000); // start-up (config, admin database, first pass) is not the steady cost
  const w0 = { ...sample(), watch: cpuOf(watch.pid) };
  await sleep(seconds * 1000);
  const w1 = { ...sample(), watch: cpuOf(watch.pid) };
  watch.kill('SIGINT');
  const ended = await watch;
  const run = JSON.parse(ended.stdout);
  const passes = run.passes.filter((p) => p.tenants === tenants);
  const wall = (w1.at - w0.at) / 1000;
  const passesInWindow = Math.round(wall / 1); // interval 1 s plus the pass itself
  const durations = passes.map((p) => p.durationMs).sort((a, b) => a - b);
  const watchCpu = w1.watch - w0.watch;
  const engineCpu = (w1.dockerd - w0.dockerd + w1.containerd - w0.containerd) - (b1.dockerd - b0.dockerd + b1.containerd - b0.containerd) * (wall / ((b1.at - b0.at) / 1000));
  const perPass = (watchCpu + Math.max(0, engineCpu)) / Math.max(1, passes.length);
  console.log(JSON.stringify({
    tenants, windowSeconds: Math.round(wall), passes: passes.length,
    passMs: { median: durations[Math.floor(durations.length / 2)], p90: durations[Math.floor(durations.length * 0.9)], max: durations.at(-1) },
    cpuSeconds: { watchProcess: +watchCpu.toFixed(2), dockerdAndContainerdAboveBaseline: +engineCpu.toFixed(2) },
    cpuMsPerPass: +(perPass * 1000).toFixed(1),
    atDefaultInterval15s: `${((perPass / 15) * 100).toFixed(3)}% of a core for ${tenants} tenants`,
    passesInWindowEstimate: passesInWindow,
  }, null, 2));

  // The one question a pass asks, the container list, with ~400 more managed containers (100
  // tenants' worth), created, not started. dockerd's CPU per call: 40 calls, then an idle window of
  // the same length (the host's other work), three rounds; the difference is the calls'.
  const query = '/containers/json?all=true&filters=' + encodeURIComponent(JSON.stringify({ label: ['tenantctl.managed=true'] }));
  const get = () => new Promise((resolve, reject) => http.get({ socketPath: '/var/run/docker.sock', path: query }, (r) => {
    let body = '';
    r.on('data', (c) => (body += c));
    r.on('end', () => resolve(body));
  }).on('error', reject));
  const listCost = async () => {
    const managed = JSON.parse(await get()).length;
    const rounds = [];
    for (let round = 0; round < 3; round++) {
      const calls = 40;
      const t0 = performance.now();
      const c0 = cpuOf(dockerd);
      for (let i = 0; i < calls; i++) await get();
      const wallMs = performance.now() - t0;
      const c1 = cpuOf(dockerd);
      await sleep(wallMs);
      const c2 = cpuOf(dockerd);
      rounds.push({ wallMsPerCall: +(wallMs / calls).toFixed(1), dockerdCpuMsPerCall: +((((c1 - c0) - (c2 - c1)) * 1000) / calls).toFixed(1) });
    }
    return { managedContainers: managed, rounds };
  };
  const before = await listCost();
  const image = 'tenantctl/redis:7';
  for (let i = 0; i < 400; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, j) => execa('docker', ['create', '--label', 'tenantctl.managed=true', '--label', `tenantctl.bench=${prefix}`,
      '--label', `com.docker.compose.project=${prefix}-fake${Math.floor((i + j) / 4)}`, '--label', `com.docker.compose.service=s${(i + j) % 4}`, image])));
  }
  const after = await listCost();
  console.log(JSON.stringify({ containerList: [before, after] }, null, 2));

  t = performance.now();
  await execa('docker', ['system', 'df', '-v']);
  console.log(JSON.stringify({ dockerSystemDfVerboseMs: Math.round(performance.now() - t) }));
} finally {
  await cleanup();
}
