// The host as a whole (every process: containers, containerd-shims, docker-proxy, dockerd, the
// admin database), from the kernel's own counters: CPU from /proc/stat, memory from /proc/meminfo's
// MemAvailable. What a capacity claim rests on; a container's cgroup alone leaves out the rest.
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The host's CPU time from /proc/stat's first line, in clock ticks: total and idle (idle + iowait). */
export function hostCpu() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest and guest_nice are already in user and nice)
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, idle: fields[3] + (fields[4] ?? 0) };
}

export const hostCpus = os.cpus().length;

/** Between two hostCpu() readings: the idle share and how many cores were busy on average. */
export function hostUsage(before, after) {
  const total = after.total - before.total;
  const idleShare = (after.idle - before.idle) / total;
  return { idlePercent: idleShare * 100, busyCores: (1 - idleShare) * hostCpus };
}

/** MemAvailable and MemTotal, in MiB. */
export function hostMemory() {
  const info = readFileSync('/proc/meminfo', 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(info)[1]);
  return { availableMiB: kib('MemAvailable') / 1024, totalMiB: kib('MemTotal') / 1024 };
}

/** The host's busy cores and MemAvailable (median of its samples) over `seconds`. */
export async function measureHost(seconds, { sampleSeconds = 10 } = {}) {
  const before = hostCpu();
  const started = process.hrtime.bigint();
  const available = [];
  for (let waited = 0; waited < seconds; waited += sampleSeconds) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(sampleSeconds, seconds - waited) * 1000));
    available.push(hostMemory().availableMiB);
  }
  const usage = hostUsage(before, hostCpu());
  const sorted = available.sort((a, b) => a - b);
  return { ...usage, availableMiB: sorted[Math.floor(sorted.length / 2)], seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
