// A container's CPU time and memory from the kernel's cgroup accounting (v1 or v2), read on the
// host: what the idle-cost benchmarks measure. Needs the container's main pid (docker inspect).
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const cgroupV2 = (() => {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => / - cgroup2 /.test(line) && line.split(' ')[4] === '/sys/fs/cgroup');
  } catch {
    return false;
  }
})();

function v1Mount(controller) {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right?.startsWith('cgroup ')) continue;
    if (right.split(' ')[2].split(',').includes(controller)) return left.split(' ')[4];
  }
  throw new Error(`no cgroup v1 mount for ${controller}`);
}

/** The cgroup directories of a container, from its main process's /proc/<pid>/cgroup. */
export function cgroupOf(pid) {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((line) => line.split(':'));
  if (cgroupV2) {
    const dir = path.join('/sys/fs/cgroup', lines.find(([h]) => h === '0')[2]);
    return { cpu: dir, memory: dir };
  }
  const find = (controller) => path.join(v1Mount(controller), lines.find(([, ctl]) => ctl.split(',').includes(controller))[2]);
  return { cpu: find('cpuacct'), memory: find('memory') };
}

/** Cumulative CPU time of the cgroup, in nanoseconds. */
export function cpuNs(cg) {
  if (cgroupV2) return Number(/usage_usec (\d+)/.exec(readFileSync(path.join(cg.cpu, 'cpu.stat'), 'utf8'))[1]) * 1_000;
  return Number(readFileSync(path.join(cg.cpu, 'cpuacct.usage'), 'utf8'));
}

/** Memory as `docker stats` shows it: usage minus inactive page cache, in bytes. */
export function memoryBytes(cg) {
  const stat = readFileSync(path.join(cg.memory, 'memory.stat'), 'utf8');
  const field = (name) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
  if (cgroupV2) return Number(readFileSync(path.join(cg.memory, 'memory.current'), 'utf8')) - field('inactive_file');
  return Number(readFileSync(path.join(cg.memory, 'memory.usage_in_bytes'), 'utf8')) - field('total_inactive_file');
}
