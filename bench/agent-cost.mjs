#!/usr/bin/env node
// What does the agent cost? Issue 22 asks for <= 1% of a core with 100 tenants. Provisions N default
// tenants with tenantctl (the default template) into a private admin database, then measures the
// same host twice in one run, each over a window of BENCH_SECONDS:
//   1. baseline: the N tenants, no agent;
//   2. the agent up (`tenantctl agent up`, default settings: watch every 15 s, alerts every 5 s,
//      schedules polled every 15 s, heartbeats every 15 s), after a warm-up of its first passes.
// Each window is cut into samples of BENCH_SAMPLE_SECONDS: the agent container's CPU from its
// cgroup (cpu.stat / cpuacct.usage) and memory (usage less inactive page cache), and the host's
// busy cores from /proc/stat with MemAvailable; each figure is the median of its samples. The
// agent's container CPU is what the budget is about; the host-wide difference (agent
// window less baseline) also holds what the agent asks of dockerd, and the noise of other work.
//
// Exits 1 when the agent's median exceeds BENCH_BUDGET_CORES (default 0.01, 1% of a core) or
// an operation failed (a provision, agent up/down, a loop of the agent that failed during the
// window); 0 otherwise. Prints one JSON document.
//
// Usage: npm run build && node bench/agent-cost.mjs
//   BENCH_TENANTS         tenants provisioned (default 100; the lead runs 100 on a quiet host)
//   BENCH_SECONDS         each measured window (default 300)
//   BENCH_SAMPLE_SECONDS  one sample (default 15: one watch pass at the default interval)
//   BENCH_WARMUP_SECONDS  after agent up, before its window (default 45)
//   BENCH_SETTLE_SECONDS  after provisioning, before the baseline (default 20). The watch inspects
//                         containers started within the last 5 minutes on every pass (their restart
//                         counts): with short windows, settle past that, or the agent's window
//                         measures the first minutes after a provision, not a steady host
//   BENCH_CONCURRENCY     provisions at once (default 3)
//   BENCH_BUDGET_CORES    the agent's allowed median (default 0.01)
// Everything carries the run's prefix (agentcost...) and is removed afterwards, also on failure.
import getPort from 'get-port';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchEnvironment, cli } from './environment.mjs';
import { cgroupOf, cpuNs, memoryBytes } from './cgroup.mjs';
import { hostCpu, hostMemory, hostUsage } from './host-usage.mjs';

const tenants = Number(process.env.BENCH_TENANTS ?? 100);
const seconds = Number(process.env.BENCH_SECONDS ?? 300);
const sampleSeconds = Number(process.env.BENCH_SAMPLE_SECONDS ?? 15);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 45);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 3);
const settleSeconds = Number(process.env.BENCH_SETTLE_SECONDS ?? 20);
const budgetCores = Number(process.env.BENCH_BUDGET_CORES ?? 0.01);
for (const [name, value] of Object.entries({ tenants, seconds, sampleSeconds, warmupSeconds, concurrency, budgetCores, settleSeconds })) {
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`agent-cost: ${name} must be a positive number (got ${value})`);
    process.exit(2);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round = (value, digits = 4) => (value === null ? null : Number(value.toFixed(digits)));

const { dir, prefix, env, run, cleanup } = await benchEnvironment('agentcost');
const agentProject = `${prefix}-agent`;
Object.assign(env, { TENANTCTL_AGENT_PROJECT: agentProject, TENANTCTL_AGENT_PORT: String(await getPort()), TENANTCTL_HEALTH_DEADLINE: '300' });
// The default template and default settings; the config file only exists so that nothing of the
// operator's own configuration (a tenantctl.config.yaml in the working directory) is read.
writeFileSync(path.join(dir, 'tenantctl.config.yaml'), '{}\n');

const failures = [];
const tenantctl = async (args, options = {}) => {
  const result = await run('node', [cli, ...args], { reject: false, ...options });
  if (result.exitCode !== 0) failures.push(`tenantctl ${args.join(' ')}: exit ${result.exitCode}: ${whyFailed(result)}`);
  return result;
};

/** A failed command's cause: a batch's failed tenants from its --json document, else the error document or stderr's last lines. */
function whyFailed(result) {
  try {
    const out = JSON.parse(String(result.stdout));
    const failed = (out.tenants ?? []).filter((t) => t.error || t.outcome === 'failed');
    if (failed.length > 0) return failed.map((t) => `${t.id}: ${typeof t.error === 'string' ? t.error : JSON.stringify(t.error ?? t)}`).join('; ');
    if (out.error) return JSON.stringify(out.error);
  } catch {
    // not JSON: stderr says why
  }
  return String(result.stderr).trim().split('\n').slice(-3).join(' | ');
}

/** One window: `samples` of sampleSeconds each; per sample the host's busy cores and MemAvailable, and the agent's cores and memory when given. */
async function measure(agentCgroup) {
  const samples = [];
  const count = Math.max(1, Math.round(seconds / sampleSeconds));
  for (let i = 0; i < count; i++) {
    const host0 = hostCpu();
    const agent0 = agentCgroup ? cpuNs(agentCgroup) : 0;
    const t0 = process.hrtime.bigint();
    await sleep(sampleSeconds * 1000);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const host = hostUsage(host0, hostCpu());
    samples.push({
      hostBusyCores: host.busyCores,
      hostAvailableMiB: hostMemory().availableMiB,
      ...(agentCgroup ? { agentCores: (cpuNs(agentCgroup) - agent0) / 1e9 / wall, agentMemoryMiB: memoryBytes(agentCgroup) / 1024 / 1024 } : {}),
    });
  }
  const of = (key) => samples.map((s) => s[key]).filter((v) => v !== undefined);
  return {
    samples: samples.length,
    sampleSeconds,
    hostBusyCores: round(median(of('hostBusyCores'))),
    hostAvailableMiB: round(median(of('hostAvailableMiB')), 0),
    ...(agentCgroup ? {
      agentCores: round(median(of('agentCores')), 5),
      agentCoresMax: round(Math.max(...of('agentCores')), 5),
      agentMemoryMiB: round(median(of('agentMemoryMiB')), 1),
    } : {}),
  };
}

let report;
try {
  const ids = Array.from({ length: tenants }, (_, i) => `c${i + 1}`);
  const t = performance.now();
  const provision = await tenantctl(['provision', ...ids, '--concurrency', String(concurrency), '--json'], { timeout: Math.max(600_000, tenants * 60_000) });
  const provisionSeconds = Math.round((performance.now() - t) / 1000);
  if (failures.length > 0) throw new Error('provisioning failed');
  await sleep(settleSeconds * 1000); // the tenants' own start-up settles

  const baseline = await measure(undefined);

  const up = await tenantctl(['agent', 'up', '--json'], { timeout: 600_000 });
  if (up.exitCode !== 0) throw new Error('agent up failed');
  const [{ State: { Pid: agentPid } }] = JSON.parse((await run('docker', ['inspect', JSON.parse(up.stdout).container])).stdout);
  const agentCgroup = cgroupOf(agentPid);
  await sleep(warmupSeconds * 1000);
  const before = JSON.parse((await tenantctl(['agent', 'status', '--json'])).stdout);
  const withAgent = await measure(agentCgroup);
  const after = JSON.parse((await tenantctl(['agent', 'status', '--json'])).stdout);

  // A loop that failed during the window is an operation that failed.
  const loops = after.loops.map((loop) => {
    const was = before.loops.find((l) => l.name === loop.name) ?? { ticks: 0, failures: 0 };
    return { name: loop.name, ticks: loop.ticks - was.ticks, failures: loop.failures - was.failures, lastError: loop.lastError };
  });
  for (const loop of loops.filter((l) => l.failures > 0)) failures.push(`agent loop ${loop.name}: ${loop.failures} failed tick(s) in the window; last error: ${loop.lastError}`);
  if (after.state !== 'running' || after.leader !== true) failures.push(`the agent was ${after.state}${after.leader === true ? '' : ', not leading'} at the end of the window`);

  await tenantctl(['agent', 'down', '--json']);
  report = {
    tenants, provisionSeconds, settleSeconds, windowSeconds: seconds, warmupSeconds,
    host: { cpus: (await import('node:os')).cpus().length },
    baseline,
    withAgent,
    agent: {
      medianCores: withAgent.agentCores,
      percentOfACore: round(withAgent.agentCores * 100, 3),
      budgetCores,
      withinBudget: withAgent.agentCores <= budgetCores,
      medianMemoryMiB: withAgent.agentMemoryMiB,
      hostBusyCoresAboveBaseline: round(withAgent.hostBusyCores - baseline.hostBusyCores),
      hostMemoryMiBUsedAboveBaseline: round(baseline.hostAvailableMiB - withAgent.hostAvailableMiB, 0),
      loops,
    },
    failures,
  };
} catch (error) {
  report = { tenants, error: error.message, failures };
} finally {
  await run('node', [cli, 'agent', 'down', '--json'], { reject: false });
  await cleanup();
}
console.log(JSON.stringify(report, null, 2));
process.exit(report.error || report.failures.length > 0 || !report.agent?.withinBudget ? 1 : 0);
