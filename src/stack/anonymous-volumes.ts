import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { isRecord } from '../templates/render-compose.js';
import { lastErrorLine } from '../common/exec.js';
import { dockerQueryTimeoutMs } from '../common/timeouts.js';
import type { DockerHost } from '../engine/docker-host.js';

// The anonymous volumes of a compose project's containers: what Docker makes for an image's VOLUME
// that the template mounts nothing over (an operator's template may leave one: a Redis cache with
// no data volume). They carry no label of the project, so removal by label never sees them, and
// `compose down -v` removes them only while the container still has them as anonymous: once
// compose recreated the container (rotate-secrets, change, upgrade, a new port), the new one
// inherits the old one's volume by name, Docker counts it as named, and `docker rm -v` (so
// `down -v`) keeps it. A deprovision without --keep-data left one behind per recreated service
// (observed in CI: a tenantctl/redis /data volume after templates.test.ts). They are listed while
// the containers still exist and removed by name once the containers are gone.

const anonymousName = /^[0-9a-f]{64}$/;

/**
 * The anonymous volumes the given containers mount: a 64-hex name Docker chose, no label but
 * Docker's own `com.docker.volume.anonymous` (23+), and not a volume the compose file names as
 * external (an operator's own volume is never taken, whatever its name).
 */
export async function anonymousVolumesOf(host: DockerHost, containers: readonly string[], composeFile: string, signal?: AbortSignal): Promise<string[]> {
  if (containers.length === 0) return [];
  const mounts = await host.run(['docker', 'container', 'inspect', '--format', '{{json .Mounts}}', ...containers], { timeoutMs: dockerQueryTimeoutMs, signal });
  // A container gone meanwhile makes inspect fail for it alone: the others' lines are still printed.
  const names = new Set<string>();
  for (const line of mounts.stdout.split('\n')) {
    if (!line.trim().startsWith('[')) continue;
    for (const m of JSON.parse(line) as Array<{ Type?: string; Name?: string }>) {
      if (m.Type === 'volume' && m.Name && anonymousName.test(m.Name)) names.add(m.Name);
    }
  }
  // Without the compose file there is no telling an operator's external volume (a `docker volume
  // create` without a name is 64-hex and unlabelled too) from an anonymous one: nothing is taken.
  const external = externalVolumeNames(composeFile);
  if (!external) return [];
  const candidates = [...names].filter((n) => !external.has(n));
  if (candidates.length === 0) return [];
  const labels = await host.run(['docker', 'volume', 'inspect', '--format', '{{.Name}} {{json .Labels}}', ...candidates], { timeoutMs: dockerQueryTimeoutMs, signal });
  return labels.stdout.split('\n').flatMap((line) => {
    const [name, json] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
    if (!anonymousName.test(name)) return [];
    const own = Object.keys((JSON.parse(json || 'null') as Record<string, string> | null) ?? {}).filter((k) => k !== 'com.docker.volume.anonymous');
    return own.length === 0 ? [name] : [];
  }).sort();
}

/** Names the file's top-level `volumes:` declares external; undefined when the file is absent or unreadable. */
function externalVolumeNames(file: string): Set<string> | undefined {
  const names = new Set<string>();
  if (!file || !existsSync(file)) return undefined;
  let tree: unknown;
  try {
    tree = parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const volumes = isRecord(tree) && isRecord(tree.volumes) ? tree.volumes : {};
  for (const [key, spec] of Object.entries(volumes)) {
    if (isRecord(spec) && spec.external) names.add(typeof spec.name === 'string' ? spec.name : key);
  }
  return names;
}

/**
 * Removes the volumes by name, once no container of the project holds them. One already gone
 * (compose down -v took it) is fine; one another container still uses is not ours to break: it is
 * left, and said.
 */
export async function removeAnonymousVolumes(host: DockerHost, names: readonly string[], onProgress?: (line: string) => void): Promise<number> {
  let removed = 0;
  for (const name of names) {
    const r = await host.run(['docker', 'volume', 'rm', name], { timeoutMs: dockerQueryTimeoutMs });
    if (r.exitCode === 0) removed += 1;
    else if (!/no such volume/i.test(r.stderrTail)) onProgress?.(`anonymous volume ${name} was left: ${lastErrorLine(r.stderrTail)}`);
  }
  return removed;
}
