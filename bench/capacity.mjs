#!/usr/bin/env node
// How many idle default tenants does this host hold? Provisioned by tenantctl itself (one
// `provision --file` batch of the default template, plan and images), measured host-wide: every
// process's CPU from /proc/stat and MemAvailable from /proc/meminfo (bench/host-usage.mjs), so the
// containerd-shims, docker-proxies and dockerd the tenants bring count too, not only their
// containers' cgroups.
//
// Same run, same host: the baseline is the host before any tenant (the admin database up) over
// BENCH_BASELINE_SECONDS; then the N tenants are provisioned, left to settle, and the host is
// measured over BENCH_IDLE_SECONDS (default 300: idle tenants' timers run every 30-60 s). Cost per
// tenant = (with - baseline) / N. Capacity = the fewer of: CPU, tenants until 80% of the cores are
// busy; memory, tenants until 2 GiB of MemAvailable is left. The binding limit is printed.
//
// Usage: npm run build && node bench/capacity.mjs
//   BENCH_TENANTS (default 60), BENCH_IDLE_SECONDS (300), BENCH_BASELINE_SECONDS (60),
//   BENCH_SETTLE_SECONDS (60), BENCH_CLAIM (what the README says the host holds; default 120)
// Exit code: 0 when every tenant was provisioned and running and the estimate is at least
// BENCH_CLAIM; 1 otherwise. Everything the run created is removed afterwards (also on Ctrl-C).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchEnvironment, childRunner, cli, onInterrupt, sleep } from './environment.mjs';
import { hostCpus, hostMemory, measureHost } from './host-usage.mjs';

const tenants = Number(process.env.BENCH_TENANTS ?? 60);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 300);
const baselineSeconds = Number(process.env.BENCH_BASELINE_SECONDS ?? 60);
const settleSeconds = Number(process.env.BENCH_SETTLE_SECONDS ?? 60);
const claim = Number(process.env.BENCH_CLAIM ?? 120);
const cpuCeiling = 0.8; // of the cores: room for provisions, backups and bursts
const memoryReserveMiB = 2048;

const environment = await benchEnvironment('benchcap');
const { dir, env } = environment;
const { run, children } = childRunner({ env, cwd: dir, timeoutMs: 3_600_000 });
const ids = Array.from({ length: tenants }, (_, i) => `cap${String(i + 1).padStart(3, '0')}`);

const cleanup = environment.cleanup;
onInterrupt('capacity', { children, graceMs: 120_000, cleanup, what: 'stopping the provisions (they roll back), then removing what this run created' });

let exitCode = 0;
try {
  const memory = hostMemory();
  console.log(`capacity: ${tenants} idle default tenants provisioned by tenantctl; ${hostCpus} cores, ${(memory.totalMiB / 1024).toFixed(1)} GiB, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  await run('node', [cli, 'list', '--quiet']); // starts the admin database, before the baseline
  const baseline = await measureHost(baselineSeconds);
  console.log(`baseline (no tenant): ${baseline.busyCores.toFixed(3)} of ${hostCpus} cores busy, MemAvailable ${baseline.availableMiB.toFixed(0)} MiB over ${baseline.seconds.toFixed(0)} s`);

  const file = path.join(dir, 'tenants.yaml');
  writeFileSync(file, `tenants:\n${ids.map((id) => `  - id: ${id}\n    name: "Capacity ${id}"`).join('\n')}\n`);
  const started = performance.now();
  const batch = await run('node', [cli, 'provision', '--file', file, '--json'], { reject: false });
  const batchSeconds = (performance.now() - started) / 1000;
  const summary = JSON.parse(batch.stdout || '{}').summary ?? {};
  console.log(`provisioned: ${summary.active ?? 0}/${tenants} active in ${batchSeconds.toFixed(0)} s (exit ${batch.exitCode})`);
  for (const t of JSON.parse(batch.stdout || '{}').tenants ?? []) if (!t.ok) console.log(`  ${t.id}: ${t.error?.code}: ${t.error?.message}`);
  if (batch.exitCode !== 0) exitCode = 1;

  await sleep(settleSeconds * 1000);
  const loaded = await measureHost(idleSeconds);
  const listed = JSON.parse((await run('node', [cli, 'list', '--json'])).stdout);
  const running = (listed.tenants ?? listed).filter((t) => ids.includes(t.id) && t.status === 'active' && t.live === 'running').length;
  if (running !== tenants) {
    console.log(`only ${running} of ${tenants} tenants were active and running after the idle window`);
    exitCode = 1;
  }
  const cpuPerTenant = (loaded.busyCores - baseline.busyCores) / running;
  const memPerTenant = (baseline.availableMiB - loaded.availableMiB) / running;
  const byCpu = Math.floor((cpuCeiling * hostCpus - baseline.busyCores) / cpuPerTenant);
  const byMemory = Math.floor((baseline.availableMiB - memoryReserveMiB) / memPerTenant);
  const estimate = Math.min(byCpu, byMemory);
  console.log(`with ${running} idle: ${loaded.busyCores.toFixed(3)} cores busy, MemAvailable ${loaded.availableMiB.toFixed(0)} MiB over ${loaded.seconds.toFixed(0)} s`);
  console.log(`per tenant, host-wide: ${(cpuPerTenant * 100).toFixed(2)}% of a core, ${memPerTenant.toFixed(0)} MiB`);
  console.log(`this host holds about ${estimate} idle default tenants (CPU to ${cpuCeiling * 100}% of ${hostCpus} cores: ${byCpu}; memory to ${memoryReserveMiB} MiB left: ${byMemory}); the limit is ${byCpu <= byMemory ? 'CPU' : 'memory'}`);
  if (!(estimate >= claim)) {
    console.log(`target missed: the README says ${claim}`);
    exitCode = 1;
  }
} catch (error) {
  console.error(`capacity: ${error.stack ?? error}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
