import type { DockerHost } from '../engine/docker-host.js';
import { messageOf } from '../common/errors.js';
import { dockerStatsTimeoutMs, hostProbeTimeoutMs } from '../common/timeouts.js';
import { parseMemory } from './memory.js';

// Asking a Docker host whether it answers, and what it has: one `docker info` with a short
// timeout (hostProbeTimeoutMs), so a host that is down is reported in seconds, not minutes.

export type HostProbe =
  /** engineId: the daemon's own ID (docker info .ID): one engine reached two ways (a socket and tcp, tcp and ssh) says the same. */
  | { reachable: true; engineVersion: string; engineId: string; cpus: number; memoryBytes: number; swarm: string; latencyMs: number }
  | { reachable: false; error: string; latencyMs: number };

export async function probeHost(host: DockerHost, signal?: AbortSignal): Promise<HostProbe> {
  const started = performance.now();
  try {
    const out = await host.docker(['info', '--format', '{{.ServerVersion}}\t{{.NCPU}}\t{{.MemTotal}}\t{{.Swarm.LocalNodeState}}\t{{.ID}}'], { signal, timeoutMs: hostProbeTimeoutMs });
    const [engineVersion = '', cpus = '0', memory = '0', swarm = '', engineId = ''] = out.trim().split('\t');
    // `docker info` prints the client's part and exits 0 on some versions when the server is gone.
    if (!engineVersion) return { reachable: false, error: 'the engine did not say its version', latencyMs: performance.now() - started };
    // Kept by the DockerHost: a reservation or doctor on this host later in the command asks nothing more.
    host.rememberEngineId(engineId);
    return { reachable: true, engineVersion, engineId, cpus: Number(cpus), memoryBytes: Number(memory), swarm, latencyMs: performance.now() - started };
  } catch (error) {
    return { reachable: false, error: messageOf(error), latencyMs: performance.now() - started };
  }
}

/** What a host's running containers use now, from one `docker stats --no-stream` (about 2 s). */
export async function hostUsage(host: DockerHost, signal?: AbortSignal): Promise<{ cpuPercent: number; memoryBytes: number; containers: number } | undefined> {
  try {
    const out = await host.docker(['stats', '--no-stream', '--format', '{{.CPUPerc}}\t{{.MemUsage}}'], { signal, timeoutMs: dockerStatsTimeoutMs });
    let cpuPercent = 0;
    let memoryBytes = 0;
    let containers = 0;
    for (const line of out.split('\n').filter(Boolean)) {
      const [cpu = '', mem = ''] = line.split('\t');
      cpuPercent += Number.parseFloat(cpu) || 0;
      memoryBytes += parseMemory(mem.split('/')[0] ?? '');
      containers += 1;
    }
    return { cpuPercent: Math.round(cpuPercent * 10) / 10, memoryBytes, containers };
  } catch {
    return undefined;
  }
}
