// A container's CPU time and memory from the kernel's cgroup accounting (v1 or v2), read on the
// host: what the idle-cost benchmarks measure, and the measurement itself (measureIdle). Needs the container's main pid (docker inspect).
import { execa } from 'execa';
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

/** The running containers of a compose project: service, cgroup directories, restart count. */
export async function projectContainers(project) {
  const ids = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`])).stdout.split('\n').filter(Boolean);
  const inspected = JSON.parse((await execa('docker', ['inspect', ...ids])).stdout);
  return inspected.map((c) => ({ service: c.Config.Labels['com.docker.compose.service'], cg: cgroupOf(c.State.Pid), restarts: c.RestartCount }));
}

/**
 * One project's containers at rest for `idleSeconds`: each one's share of a core (cgroup CPU time
 * over wall time) and its mean memory (sampled about six times, and once more at the end), in
 * `serviceOrder`; and which containers restarted meanwhile.
 */
export async function measureIdle(project, { idleSeconds, serviceOrder }) {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const list = await projectContainers(project);
  const t0 = process.hrtime.bigint();
  const before = list.map((c) => cpuNs(c.cg));
  const memSamples = list.map(() => []);
  const sampleEvery = Math.max(1, Math.floor(idleSeconds / 6));
  for (let s = 0; s < idleSeconds; s += sampleEvery) {
    list.forEach((c, i) => memSamples[i].push(memoryBytes(c.cg)));
    await sleep(Math.min(sampleEvery, idleSeconds - s) * 1000);
  }
  const after = list.map((c) => cpuNs(c.cg));
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  list.forEach((c, i) => memSamples[i].push(memoryBytes(c.cg)));
  const restarted = (await projectContainers(project)).filter((c) => c.restarts > 0).map((c) => c.service);
  const rows = list.map((c, i) => ({
    service: c.service,
    cpuPercent: ((after[i] - before[i]) / elapsedNs) * 100,
    memoryMiB: memSamples[i].reduce((a, b) => a + b, 0) / memSamples[i].length / 2 ** 20,
  }));
  rows.sort((a, b) => serviceOrder.indexOf(a.service) - serviceOrder.indexOf(b.service));
  return { rows, restarted, seconds: elapsedNs / 1e9 };
}
