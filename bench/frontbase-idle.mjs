#!/usr/bin/env node
// What does one idle frontbase tenant cost? Provisions ONE tenant of the frontbase template with
// every part (`tenantctl provision --template frontbase --with postgres`: frontend, backend, edge,
// redis, redis-http, postgres), as an operator would, lets it settle, then measures each container's
// CPU from the kernel's cgroup accounting over the idle window and its memory (as `docker stats`
// counts it), and deprovisions it.
//
// Beside it, in the same run, the baseline: the same tenant with 1 s health checks
// (TENANTCTL_HEALTH_INTERVAL=1). Target (issue 12, as crm's): an idle tenant under 1% of one core.
//
// Usage: node bench/frontbase-idle.mjs   (after npm run build and scripts/build-images.sh)
//   BENCH_IDLE_SECONDS   the measured idle window (default 60)
//   BENCH_SETTLE_SECONDS idle time before measuring (default 10)
//   BENCH_BASELINE=0     skip the 1 s baseline
// Everything runs under a private admin database, customers dir and compose project prefix
// (bench/environment.mjs), removed afterwards, also when it fails or is interrupted.
import { benchEnvironment, childRunner, cli, onInterrupt, sleep } from './environment.mjs';
import { cgroupV2, measureIdle } from './cgroup.mjs';

const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const settleSeconds = Number(process.env.BENCH_SETTLE_SECONDS ?? 10);
const withBaseline = process.env.BENCH_BASELINE !== '0';
const serviceOrder = ['frontend', 'backend', 'edge', 'redis', 'redis-http', 'postgres'];

const bench = await benchEnvironment('fbidle');
const { run, children } = childRunner({ env: bench.env, cwd: bench.dir, timeoutMs: 300_000 });

const measure = (project) => measureIdle(project, { idleSeconds, serviceOrder });

/** One tenant: provision, settle, measure, deprovision. */
async function idleTenant(id, healthIntervalSeconds) {
  const env = { ...bench.env, TENANTCTL_HEALTH_INTERVAL: String(healthIntervalSeconds) };
  const started = performance.now();
  const provisioned = await run('node', [cli, 'provision', id, '--template', 'frontbase', '--with', 'postgres', '--json'], { env, reject: false });
  if (provisioned.exitCode !== 0) throw new Error(`provision ${id} failed (exit ${provisioned.exitCode}): ${provisioned.stderr.split('\n').filter((l) => l.startsWith('tenantctl:')).join(' ') || provisioned.stderr.slice(-500)}`);
  const result = JSON.parse(provisioned.stdout);
  const provisionSeconds = (performance.now() - started) / 1000;
  console.log(`[${id}] provisioned in ${provisionSeconds.toFixed(1)} s (health checks every ${healthIntervalSeconds} s); settling ${settleSeconds} s, then measuring ${idleSeconds} s`);
  await sleep(settleSeconds * 1000);
  const measured = await measure(result.project);
  const removed = await run('node', [cli, 'deprovision', id, '--yes', '--json'], { env, reject: false });
  if (removed.exitCode !== 0) throw new Error(`deprovision ${id} failed (exit ${removed.exitCode})`);
  return { ...measured, provisionSeconds };
}

function table(label, result) {
  const total = result.rows.reduce((acc, r) => ({ cpu: acc.cpu + r.cpuPercent, mem: acc.mem + r.memoryMiB }), { cpu: 0, mem: 0 });
  const lines = result.rows.map((r) => `  ${r.service.padEnd(10)} ${r.cpuPercent.toFixed(3).padStart(8)} % of a core  ${r.memoryMiB.toFixed(1).padStart(7)} MiB`);
  lines.push(`  ${'total'.padEnd(10)} ${total.cpu.toFixed(3).padStart(8)} % of a core  ${total.mem.toFixed(1).padStart(7)} MiB`);
  return { text: `${label} (${result.seconds.toFixed(1)} s measured${result.restarted.length ? `; RESTARTED: ${result.restarted.join(', ')}` : ''})\n${lines.join('\n')}`, total };
}

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const child of children) child.kill('SIGTERM');
  await Promise.allSettled([...children]);
  await bench.cleanup();
}
onInterrupt('frontbase-idle', { cleanup });

let exitCode = 0;
try {
  console.log(`frontbase-idle: ${idleSeconds} s idle window after ${settleSeconds} s settling; cgroup ${cgroupV2 ? 'v2' : 'v1'}`);
  const now = table('frontbase --with postgres (30 s health checks)', await idleTenant('fbidle', 30));
  console.log(now.text);
  if (withBaseline) console.log(table('baseline: the same tenant with 1 s health checks', await idleTenant('fbidle-baseline', 1)).text);
  const ok = now.total.cpu <= 1;
  console.log(`idle frontbase tenant: ${now.total.cpu.toFixed(2)}% of one core (target <= 1%), ${now.total.mem.toFixed(0)} MiB: ${ok ? 'within target' : 'OVER TARGET'}`);
  if (!ok) exitCode = 1;
} catch (error) {
  console.error(`frontbase-idle failed: ${error.message}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
