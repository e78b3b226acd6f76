#!/usr/bin/env node
// Issue 7: ten concurrent default-template provisions on this host. Ten `tenantctl provision`
// processes started at once (the default template, configuration and images: no template override,
// nothing else): how many end active (must be 10 of 10), the wall time, whether their ports and
// subnets are distinct (in the registry and on Docker), and the host's CPU with the ten up.
//
// CPU, measured in the same run so the figures read on any machine:
//   - baseline: the host's CPU from /proc/stat over BENCH_CPU_SECONDS (default 20) before any
//     tenant is provisioned (the admin database already runs);
//   - with the ten up, after BENCH_SETTLE_SECONDS (default 10): the host's CPU from /proc/stat over
//     the same length of time, and over the same window the ten tenants' containers' own CPU from
//     their cgroups (v1 cpuacct.usage, v2 cpu.stat usage_usec).
// Then every tenant is deprovisioned and everything the run created is removed, also on failure or
// Ctrl-C (bench/environment.mjs: private customers dir, state dir, project prefix, admin database).
//
// Usage: npm run build && node bench/concurrent-provisions.mjs
//   BENCH_TENANTS (default 10), BENCH_CPU_SECONDS (default 20), BENCH_SETTLE_SECONDS (default 10)
// Exit code: 0 when every tenant ended active with distinct ports and subnets, 1 otherwise.
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchEnvironment, childRunner, cli, onInterrupt, sleep, sweepUntilGone } from './environment.mjs';
import { hostCpu, hostCpus, hostUsage } from './host-usage.mjs';

const tenants = Number(process.env.BENCH_TENANTS ?? 10);
const cpuSeconds = Number(process.env.BENCH_CPU_SECONDS ?? 20);
const settleSeconds = Number(process.env.BENCH_SETTLE_SECONDS ?? 10);
const environment = await benchEnvironment('benchconc');
const { dir, prefix, env, composeCmd } = environment;
const ids = Array.from({ length: tenants }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);

const { run, children } = childRunner({ env, cwd: dir, timeoutMs: 900_000 });

// ---- CPU accounting ----------------------------------------------------------------------------

const mountinfo = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
const cgroupV2 = mountinfo().some((line) => / - cgroup2 /.test(line) && line.split(' ')[4] === '/sys/fs/cgroup');

function v1Mount(controller) {
  for (const line of mountinfo()) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup ') && right.split(' ')[2].split(',').includes(controller)) return left.split(' ')[4];
  }
  return undefined;
}

/** A container's CPU cgroup directory: from its main process's /proc/<pid>/cgroup, else Docker's usual v1 paths. */
function cpuCgroup(container) {
  const candidates = [];
  try {
    const lines = readFileSync(`/proc/${container.pid}/cgroup`, 'utf8').trim().split('\n').map((line) => line.split(':'));
    if (cgroupV2) candidates.push(path.join('/sys/fs/cgroup', lines.find(([h]) => h === '0')[2]));
    else {
      const mount = v1Mount('cpuacct');
      const own = lines.find(([, controllers]) => controllers.split(',').includes('cpuacct'));
      if (mount && own) candidates.push(path.join(mount, own[2]));
    }
  } catch {
    // not visible from here: fall back to the usual paths
  }
  candidates.push(`/sys/fs/cgroup/cpu,cpuacct/docker/${container.id}`, `/sys/fs/cgroup/cpuacct/docker/${container.id}`, `/sys/fs/cgroup/system.slice/docker-${container.id}.scope`);
  for (const dir of candidates) {
    try {
      cpuNs(dir);
      return dir;
    } catch {
      // next
    }
  }
  throw new Error(`no CPU cgroup found for container ${container.name}`);
}

/** Cumulative CPU time of a cgroup, in nanoseconds. */
function cpuNs(dir) {
  if (cgroupV2) return Number(/usage_usec (\d+)/.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))[1]) * 1_000;
  return Number(readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8'));
}

/** Host CPU and the given containers' CPU over the same `seconds`. */
async function measureCpu(seconds, containers = []) {
  const started = process.hrtime.bigint();
  const hostBefore = hostCpu();
  const before = containers.map((c) => cpuNs(c.cgroup));
  await sleep(seconds * 1000);
  const after = containers.map((c) => cpuNs(c.cgroup));
  const hostAfter = hostCpu();
  const elapsedNs = Number(process.hrtime.bigint() - started);
  const perContainer = containers.map((c, i) => ({ ...c, percentOfCore: ((after[i] - before[i]) / elapsedNs) * 100 }));
  return { host: hostUsage(hostBefore, hostAfter), containers: perContainer, seconds: elapsedNs / 1e9 };
}

// ---- cleanup -----------------------------------------------------------------------------------

let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await environment.cleanup(); // the admin database, every container/network/volume named <prefix>*, the private dirs
    await sweepUntilGone('concurrent-provisions', [`name=${prefix}`]);
    rmSync(dir, { recursive: true, force: true }); // again: a child cut short may have written into it late
  })();
  return cleaning;
}

const interruption = onInterrupt('concurrent-provisions', { children, graceMs: 120_000, cleanup, what: 'stopping the provisions (they roll back), then removing what this run created' });

// ---- main --------------------------------------------------------------------------------------

const sec = (ms) => `${(ms / 1000).toFixed(1)} s`;
const pct = (x) => `${x.toFixed(1)}%`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** What a failed tenantctl said, without the probes' client libraries' warnings. */
const reason = (result) => (result.stderr || result.stdout || result.message).trim().split('\n').filter((l) => !/^\[WARN\]/.test(l)).slice(0, 6).join('\n    ');

let exitCode = 0;
try {
  console.log(`concurrent-provisions: ${tenants} x tenantctl provision started at once, default template; ${hostCpus} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${composeCmd.join(' ')}`);
  await run('node', [cli, 'list', '--quiet']); // starts the admin database, outside everything measured

  const baseline = await measureCpu(cpuSeconds);
  if (interruption.interrupted) throw new Error('interrupted');
  console.log(`baseline, before provisioning: host ${pct(baseline.host.idlePercent)} idle (${baseline.host.busyCores.toFixed(2)} of ${hostCpus} cores busy) over ${baseline.seconds.toFixed(1)} s`);

  const started = performance.now();
  const outcomes = await Promise.all(ids.map(async (id) => {
    const t0 = performance.now();
    const result = await run('node', [cli, 'provision', id, '--quiet'], { reject: false });
    return { id, exitCode: result.exitCode, ms: performance.now() - t0, error: result.exitCode === 0 ? '' : reason(result) };
  }));
  const wallMs = performance.now() - started;
  if (interruption.interrupted) throw new Error('interrupted');

  const listed = JSON.parse((await run('node', [cli, 'list', '--json', '--all'])).stdout);
  const mine = listed.filter((t) => ids.includes(t.id));
  const active = mine.filter((t) => t.status === 'active');
  const times = outcomes.map((o) => o.ms);
  console.log(`provisioned: ${active.length}/${tenants} active (${outcomes.filter((o) => o.exitCode === 0).length} exited 0); wall ${sec(wallMs)}; each ${sec(Math.min(...times))} min, ${sec(median(times))} median, ${sec(Math.max(...times))} max`);
  for (const o of outcomes.filter((o) => o.exitCode !== 0)) console.log(`  ${o.id}: exit ${o.exitCode} after ${sec(o.ms)}:\n    ${o.error}`);
  for (const t of mine.filter((t) => t.status !== 'active')) console.log(`  ${t.id}: ${t.status}${t.statusReason ? ` (${t.statusReason})` : ''}`);

  // Distinct ports and subnets: in the registry, and on Docker (what the networks really use).
  const ports = active.flatMap((t) => [t.ports.app, t.ports.db, t.ports.redis]);
  const subnets = active.map((t) => t.subnet);
  const dockerSubnets = [];
  for (const t of active) {
    const networks = (await run('docker', ['network', 'ls', '-q', '--filter', `label=com.docker.compose.project=${t.composeProject}`])).stdout.split('\n').filter(Boolean);
    if (networks.length) dockerSubnets.push(...(await run('docker', ['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', ...networks])).stdout.split(/\s+/).filter(Boolean));
  }
  const distinctPorts = new Set(ports).size === ports.length && ports.every(Boolean);
  const distinctSubnets = new Set(subnets).size === subnets.length && new Set(dockerSubnets).size === dockerSubnets.length && dockerSubnets.length === subnets.length;
  console.log(`ports: ${new Set(ports).size} distinct of ${ports.length} (app, db, redis of each active tenant); subnets: ${new Set(subnets).size} distinct of ${subnets.length} in the registry, ${new Set(dockerSubnets).size} distinct of ${dockerSubnets.length} on Docker's networks`);

  // With the tenants up: the host's CPU and the tenants' containers' CPU over the same window.
  if (active.length === 0) throw new Error('no tenant ended active: nothing to measure');
  // Only this run's containers (other stacks on the host come and go while we look).
  const containerIds = (await run('docker', ['ps', '-q', '--filter', 'label=tenantctl.managed=true', '--filter', `name=${prefix}-`])).stdout.split('\n').filter(Boolean);
  const inspected = containerIds.length ? JSON.parse((await run('docker', ['inspect', ...containerIds], { reject: false })).stdout || '[]') : [];
  const containers = inspected
    .filter((c) => active.some((t) => t.composeProject === c.Config.Labels['com.docker.compose.project']))
    .map((c) => ({ id: c.Id, name: c.Name.replace(/^\//, ''), service: c.Config.Labels['com.docker.compose.service'], tenant: c.Config.Labels['tenantctl.tenant'], pid: c.State.Pid }))
    .map((c) => ({ ...c, cgroup: cpuCgroup(c) }));
  console.log(`settling ${settleSeconds} s, then measuring ${cpuSeconds} s with ${active.length} tenant(s) up (${containers.length} containers)`);
  await sleep(settleSeconds * 1000);
  if (interruption.interrupted) throw new Error('interrupted');
  const loaded = await measureCpu(cpuSeconds, containers);
  const total = loaded.containers.reduce((sum, c) => sum + c.percentOfCore, 0);
  const byService = {};
  for (const c of loaded.containers) byService[c.service] = (byService[c.service] ?? 0) + c.percentOfCore;
  console.log(`with ${active.length} up: host ${pct(loaded.host.idlePercent)} idle (${loaded.host.busyCores.toFixed(2)} of ${hostCpus} cores busy) over ${loaded.seconds.toFixed(1)} s; baseline ${pct(baseline.host.idlePercent)} idle (${baseline.host.busyCores.toFixed(2)} cores busy)`);
  console.log(`  the tenants' ${loaded.containers.length} containers (cgroup CPU, same window): ${total.toFixed(2)}% of one core in total, ${(total / Math.max(active.length, 1)).toFixed(2)}% per tenant (${Object.entries(byService).map(([s, v]) => `${s} ${v.toFixed(2)}%`).join(', ')})`);

  // A tenant counts when the registry says active AND its `tenantctl provision` said so (exit 0).
  const succeeded = active.filter((t) => outcomes.find((o) => o.id === t.id)?.exitCode === 0).length;
  const ok = succeeded === tenants && distinctPorts && distinctSubnets;
  console.log(`${succeeded}/${tenants} active and exited 0, ${distinctPorts ? 'distinct' : 'CLASHING'} ports, ${distinctSubnets ? 'distinct' : 'CLASHING'} subnets: ${ok ? 'PASS' : 'MISS'}`);
  if (!ok) exitCode = 1;

  const t0 = performance.now();
  const removed = await Promise.all(mine.map((t) => run('node', [cli, 'deprovision', t.id, '--yes', '--quiet'], { reject: false })));
  const failedRemovals = removed.filter((r) => r.exitCode !== 0);
  console.log(`deprovisioned ${removed.length - failedRemovals.length}/${removed.length} at once in ${sec(performance.now() - t0)}`);
  for (const r of failedRemovals) console.log(`  ${r.command}: exit ${r.exitCode}: ${reason(r)}`);
} catch (error) {
  if (!interruption.interrupted) console.error(`concurrent-provisions failed: ${error.shortMessage ? `${error.shortMessage}\n${error.stderr ?? ''}` : error.message}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(interruption.interrupted ? 130 : exitCode);
