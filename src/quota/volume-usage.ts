import type { DockerHost } from '../engine/docker-host.js';
import { tmpfsOverImageVolumes } from '../engine/docker.js';
import { volumeUsageTimeoutMs } from '../common/timeouts.js';
import { failureMeans, ignoreFailure } from '../common/ignore-failure.js';

// How much the tenants' volumes hold on one Docker host, in two calls whatever their number: the
// volumes by compose project label (docker volume ls), then one helper container that mounts each
// of them read-only and runs du over all of them. Measured on this project's 2-core host (engine
// 20.10): with 30 volumes (~1 GB) and 5 containers, `docker system df -v` 0.15 s, the helper
// 0.8-1.0 s (mostly the container's start); with 547 volumes and 127 containers at load ~17,
// df -v 0.57-1.23 s, the helper mounting all 547 3.1-3.5 s. df -v is not slower, but it cannot be
// what a long-running agent and operators call: engine 20.10 runs one disk-usage operation at a
// time and refuses the others ("a disk usage operation is already running": 3 of 4 concurrent calls
// failed), it walks every image, container layer and volume of the host, not the tenants' alone, and
// its CLI prints sizes rounded for humans ("697.2MB"). The helper gives bytes for exactly the
// tenants' volumes, runs beside anything else, and works the same over tcp:// and ssh:// engines.
// `docker volume inspect` has no sizes (UsageData is filled by df alone). A local root-run tenantctl
// could du the volumes' mountpoints itself, but tenantctl does not assume it is root or on the engine's machine.

export interface VolumeUsage {
  /** Bytes per compose project (the sum of its volumes). */
  byProject: Map<string, number>;
  volumes: number;
  durationMs: number;
}

/** Compose's project label: a volume the helper's run created has none. */
const projectLabel = 'com.docker.compose.project';

/**
 * The volumes of `projects` on `host`, measured with du in one helper container of `image` (any image
 * with coreutils). The helper has no network and no capability but DAC_READ_SEARCH (read any
 * directory, whoever owns it), cannot gain privileges, and mounts each volume read-only without
 * copying anything into it. A volume removed between the listing and the run would be created empty
 * by the run (Docker creates a named volume a mount asks for): such a volume, one of the names it
 * mounted that now exists without compose's project label, is removed afterwards.
 */
export async function volumeUsageOn(host: DockerHost, projects: ReadonlySet<string>, { image, signal }: { image: string; signal?: AbortSignal }): Promise<VolumeUsage> {
  const started = performance.now();
  const listed = await host.docker(['volume', 'ls', '--filter', `label=${projectLabel}`, '--format', `{{.Name}}\t{{.Label "${projectLabel}"}}`], { signal });
  const volumes = listed.split('\n').map((line) => line.split('\t')).filter(([name, project]) => name && project && projects.has(project)) as [string, string][];
  const byProject = new Map<string, number>([...projects].map((p) => [p, 0]));
  if (volumes.length === 0) return { byProject, volumes: 0, durationMs: performance.now() - started };
  const mounts = volumes.flatMap(([name], i) => ['--mount', `type=volume,src=${name},dst=/v/${i},readonly,volume-nocopy`]);
  const noAnonymousVolume = await tmpfsOverImageVolumes(host, image, signal);
  let out: string;
  try {
    out = await host.docker([
      'run', '--rm', '--network', 'none', '--user', '0', '--read-only', '--cap-drop', 'ALL', '--cap-add', 'DAC_READ_SEARCH',
      '--security-opt', 'no-new-privileges', '--label', 'tenantctl.helper=volume-usage',
      '--entrypoint', 'du', ...noAnonymousVolume, ...mounts, image, '-s', '-B1', ...volumes.map((_, i) => `/v/${i}`),
    ], { signal, timeoutMs: volumeUsageTimeoutMs });
  } finally {
    await removeCreatedByAccident(host, new Set(volumes.map(([name]) => name)));
  }
  for (const line of out.split('\n')) {
    const match = /^(\d+)\s+\/v\/(\d+)$/.exec(line.trim());
    const volume = match ? volumes[Number(match[2])] : undefined;
    if (volume) byProject.set(volume[1], (byProject.get(volume[1]) ?? 0) + Number(match![1]));
  }
  return { byProject, volumes: volumes.length, durationMs: performance.now() - started };
}

/** The mounted names that exist now without compose's label: the helper's run created them; removed (best effort). */
async function removeCreatedByAccident(host: DockerHost, mounted: ReadonlySet<string>): Promise<string[]> {
  // Without the caller's signal: a Ctrl-C during du still cleans up after it.
  const now = await host.docker(['volume', 'ls', '--format', `{{.Name}}\t{{.Label "${projectLabel}"}}`]).catch(failureMeans('', 'an engine that does not answer now: the empty volumes its run made are left, unlabelled'));
  const created = now.split('\n').map((line) => line.split('\t')).filter(([name, project]) => name && !project && mounted.has(name)).map(([name]) => name!);
  if (created.length > 0) await host.docker(['volume', 'rm', ...created]).catch(ignoreFailure('best effort: an empty unlabelled volume left is no data and no cost'));
  return created;
}
