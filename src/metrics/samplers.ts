import type { DockerHost } from '../engine/docker-host.js';
import { containerStats } from '../engine/docker.js';
import { dockerStatsTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { bytes, usageOf } from '../tenants/stats.js';

// The costly samples: CPU and memory (one `docker stats --no-stream` per host, ~2 s) and volume
// sizes (Docker walks every volume's files: the slowest question of all). Each is kept and reused
// for its configured time (metrics.statsCacheSeconds, metrics.diskCacheSeconds) and refreshed in
// the background, so a scrape never waits on one once the first has arrived.

export interface ContainerUsage {
  id: string;
  /** Cumulative CPU time (local engine: the kernel's accounting, what rate() wants). */
  cpuSeconds?: number;
  /** Share of a core over Docker's own ~1 s sample (tcp/ssh engines: docker stats). */
  cpuCores?: number;
  memoryBytes: number;
}

/**
 * Stats requests to the local engine in flight at once: all of a host's, up to this. Docker 20.10
 * answers a one-shot request at its stats collector's next tick (once a second), so requests in
 * turn take a second each; sent together, they are all answered by the same tick. Measured here
 * with 46 containers: 1.2-2.2 s, dockerd 20-50 ms of CPU (one round 600 ms, the host busy);
 * `docker stats --no-stream` on 51: 2.4-3.0 s, dockerd 330 ms, plus the CLI's own.
 */
const statsConcurrency = 256;

/**
 * CPU and memory of the given running containers. On the local engine, one socket request per
 * container, all at once (`one-shot`, API 1.41: no second sample a second later):
 * cumulative CPU seconds, memory as docker stats counts it (usage less inactive page cache). Over
 * tcp/ssh, one `docker stats --no-stream` call: a share of a core over Docker's sample.
 */
export async function sampleUsage(host: DockerHost, ids: string[], signal: AbortSignal): Promise<Map<string, ContainerUsage>> {
  const api = host.api;
  if (api) {
    const usage = new Map<string, ContainerUsage>();
    // One batch on the long-lived signal: one abort listener for every container (engine-api.ts).
    const answers = await api.getAll<any>(ids.map((id) => `/v1.41/containers/${encodeURIComponent(id)}/stats?stream=false&one-shot=true`), { signal, timeoutMs: dockerStatsTimeoutMs, concurrency: statsConcurrency });
    answers.forEach((answer, i) => {
      const stats = answer.status === 'fulfilled' ? answer.value : undefined;
      if (!stats) return; // gone meanwhile
      const id = ids[i]!;
      const memory = stats.memory_stats ?? {};
      const inactive = Number(memory.stats?.total_inactive_file ?? memory.stats?.inactive_file ?? 0);
      usage.set(id, { id, cpuSeconds: Number(stats.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1e9, memoryBytes: Math.max(0, Number(memory.usage ?? 0) - inactive) });
    });
    return usage;
  }
  const raw = await containerStats(host, ids, { timeoutMs: dockerStatsTimeoutMs, signal });
  return new Map(raw.map((r) => {
    const u = usageOf(r);
    const id = r.ID.slice(0, 12);
    return [id, { id, cpuCores: u.cpuPercent / 100, memoryBytes: u.memory.usedBytes }];
  }));
}

/** Bytes used by volumes, per compose project (the label compose puts on every volume it creates). */
export async function sampleVolumeBytes(host: DockerHost, signal: AbortSignal): Promise<Map<string, number>> {
  const byProject = new Map<string, number>();
  const add = (project: string | undefined, size: number) => {
    if (project) byProject.set(project, (byProject.get(project) ?? 0) + Math.max(0, size));
  };
  if (host.api) {
    const df = await host.api.get<{ Volumes?: Array<{ Labels?: Record<string, string> | null; UsageData?: { Size?: number } }> }>('/system/df', { signal, timeoutMs: dockerStatsTimeoutMs * 5 });
    for (const v of df?.Volumes ?? []) add(v.Labels?.['com.docker.compose.project'], v.UsageData?.Size ?? 0);
    return byProject;
  }
  const out = await host.docker(['system', 'df', '-v', '--format', '{{json .}}'], { signal, timeoutMs: dockerStatsTimeoutMs * 5 });
  const df = JSON.parse(out) as { Volumes?: Array<{ Labels?: string; Size?: string }> };
  for (const v of df.Volumes ?? []) {
    const project = /(?:^|,)com\.docker\.compose\.project=([^,]*)/.exec(v.Labels ?? '')?.[1];
    add(project, bytes(v.Size ?? '0B'));
  }
  return byProject;
}

/** A value reused for `maxAgeMs`, refreshed in the background after that; the first call waits for it. */
export class Cached<T> {
  private value?: { at: number; data: T };
  private refreshing?: Promise<T>;
  lastError?: string;

  constructor(private readonly maxAgeMs: number, private readonly load: () => Promise<T>, private readonly now: () => number) {}

  async get(): Promise<T | undefined> {
    const fresh = this.value && this.now() - this.value.at < this.maxAgeMs;
    if (!fresh && !this.refreshing) {
      this.refreshing = this.load().then(
        (data) => {
          this.value = { at: this.now(), data };
          this.lastError = undefined;
          return data;
        },
        (error: unknown) => {
          this.lastError = (error as Error).message;
          throw error;
        },
      ).finally(() => {
        this.refreshing = undefined;
      });
      this.refreshing.catch(ignoreFailure('callers await it and see its error (kept in lastError too); this keeps an unawaited refresh from being an unhandled rejection'));
    }
    if (this.value) return this.value.data;
    return this.refreshing?.catch(ignoreFailure('the error is kept in lastError; until a first value the sample is absent'));
  }

  /** Seconds since the value was taken, or undefined before the first. */
  ageSeconds(): number | undefined {
    return this.value ? (this.now() - this.value.at) / 1000 : undefined;
  }
}
