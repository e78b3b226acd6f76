import path from 'node:path';
import { TenantctlError } from '../common/errors.js';
import type { DockerHost } from './docker-host.js';
import { filtersQuery } from './engine-api.js';
import { dockerQueryTimeoutMs } from '../common/timeouts.js';

// Read and remove what Docker holds, through one DockerHost. Docker's own JSON and labels are the
// source, not compose's `ps` output, whose format changed between compose versions.

export interface ContainerState {
  id: string;
  name: string;
  service: string;
  /** created | running | restarting | exited | dead | paused */
  status: string;
  /** healthy | unhealthy | starting, or undefined when the container has no health check */
  health?: string;
  lastHealthOutput?: string;
  exitCode: number;
  restartCount: number;
  /** When it last started (ISO; Docker's zero time when it never did). */
  startedAt?: string;
  /** The image as the container names it (a tag), and the id it runs. */
  image: string;
  imageId: string;
  /** When Docker created it (ISO), and whether it is a swarm task's (swarm keeps ended tasks' containers). */
  created?: string;
  swarmTask?: boolean;
}

/**
 * The containers that are the services' now: all of a compose project's; of a swarm stack's, each
 * service's newest task container (swarm keeps the containers of tasks it ended, a stop or a
 * restart ago, beside the current one).
 */
export function currentContainers(containers: readonly ContainerState[]): ContainerState[] {
  const newest = new Map<string, ContainerState>();
  for (const c of containers) {
    if (!c.swarmTask) continue;
    const seen = newest.get(c.service);
    if (!seen || createdAfter(c.created ?? '', seen.created ?? '')) newest.set(c.service, c);
  }
  return containers.filter((c) => !c.swarmTask || newest.get(c.service) === c);
}

/**
 * Whether Docker's creation time `a` is later than `b`. Not a string comparison: Docker's RFC 3339
 * times drop trailing zeros of the fraction ("…00.1Z" is before "…00.12Z"), and the CLI's
 * `{{.CreatedAt}}` ("2026-12-06 05:00:00 +0000 UTC") has no fraction at all.
 */
export function createdAfter(a: string, b: string): boolean {
  const parse = (text: string): [number, number] => {
    const fraction = /\.(\d+)/.exec(text)?.[1] ?? '';
    const whole = Date.parse(text.replace(/\.\d+/, '').replace(/ \+0000 UTC$/, 'Z').replace(' ', 'T'));
    return [Number.isNaN(whole) ? 0 : whole, Number(fraction.padEnd(9, '0').slice(0, 9))];
  };
  const [wa, fa] = parse(a);
  const [wb, fb] = parse(b);
  return wa !== wb ? wa > wb : fa > fb;
}

const ids = (stdout: string) => stdout.split('\n').map((s) => s.trim()).filter(Boolean);

/** Ids of one compose project's containers (compose labels every container it creates). */
export async function projectContainerIds(host: DockerHost, project: string, signal?: AbortSignal): Promise<string[]> {
  if (host.api) {
    const listed = await host.api.get<Array<{ Id: string }>>(`/containers/json?all=true&${filtersQuery({ label: [`com.docker.compose.project=${project}`] })}`, { signal, timeoutMs: dockerQueryTimeoutMs });
    return (listed ?? []).map((c) => c.Id.slice(0, 12));
  }
  return ids(await host.docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { signal }));
}

/**
 * State and health of the given containers, as Docker itself reports them (compose's own `ps`
 * format varies by version). Undefined when one of them no longer exists.
 */
export async function inspectContainers(host: DockerHost, containerIds: string[], signal?: AbortSignal): Promise<ContainerState[] | undefined> {
  if (containerIds.length === 0) return [];
  let inspected: any[];
  if (host.api) {
    const api = host.api;
    // One batch: one abort listener on the caller's signal however many containers (engine-api.ts).
    const settled = await api.getAll<any>(containerIds.map((id) => `/containers/${encodeURIComponent(id)}/json`), { signal, timeoutMs: dockerQueryTimeoutMs });
    const failed = settled.find((answer) => answer.status === 'rejected');
    if (failed) throw failed.reason;
    const answers = settled.map((answer) => (answer as PromiseFulfilledResult<any>).value);
    if (answers.some((answer) => answer === undefined)) return undefined;
    inspected = answers;
  } else {
    try {
      inspected = JSON.parse(await host.docker(['inspect', ...containerIds], { signal }));
    } catch (error) {
      if (error instanceof TenantctlError && /No such/i.test(error.message)) return undefined;
      throw error;
    }
  }
  return inspected.map((c) => {
    const log = c.State?.Health?.Log as Array<{ Output?: string }> | undefined;
    return {
      id: String(c.Id).slice(0, 12),
      name: String(c.Name ?? '').replace(/^\//, ''),
      service: c.Config?.Labels?.['com.docker.compose.service'] ?? '',
      status: c.State?.Status ?? 'unknown',
      health: c.State?.Health?.Status,
      lastHealthOutput: log && log.length > 0 ? String(log[log.length - 1]?.Output ?? '').trim().slice(0, 300) : undefined,
      exitCode: Number(c.State?.ExitCode ?? 0),
      restartCount: Number(c.RestartCount ?? 0),
      startedAt: typeof c.State?.StartedAt === 'string' ? c.State.StartedAt : undefined,
      image: String(c.Config?.Image ?? ''),
      imageId: String(c.Image ?? ''),
      created: typeof c.Created === 'string' ? c.Created : undefined,
      swarmTask: Boolean(c.Config?.Labels?.['com.docker.swarm.task.id']),
    };
  });
}

export interface LabelledObjects {
  containers: string[];
  networks: string[];
  volumes: string[];
}

/** Everything Docker holds for one tenant, found by the label every object of its stack carries. */
export async function objectsByLabel(host: DockerHost, label: string, signal?: AbortSignal): Promise<LabelledObjects> {
  if (host.api) {
    // Provision asks this every time: three socket questions instead of three docker CLI starts.
    const api = host.api;
    const query = filtersQuery({ label: [label] });
    const [containers, networks, volumes] = await Promise.all([
      api.get<Array<{ Id: string }>>(`/containers/json?all=true&${query}`, { signal, timeoutMs: dockerQueryTimeoutMs }),
      api.get<Array<{ Id: string }>>(`/networks?${query}`, { signal, timeoutMs: dockerQueryTimeoutMs }),
      api.get<{ Volumes?: Array<{ Name: string }> | null }>(`/volumes?${query}`, { signal, timeoutMs: dockerQueryTimeoutMs }),
    ]);
    // Short ids, as `docker ps -q` prints them.
    return {
      containers: (containers ?? []).map((c) => c.Id.slice(0, 12)),
      networks: (networks ?? []).map((n) => n.Id.slice(0, 12)),
      volumes: (volumes?.Volumes ?? []).map((v) => v.Name),
    };
  }
  const filter = ['--filter', `label=${label}`];
  const [containers, networks, volumes] = await Promise.all([
    host.docker(['ps', '-aq', ...filter], { signal }),
    host.docker(['network', 'ls', '-q', ...filter], { signal }),
    host.docker(['volume', 'ls', '-q', ...filter], { signal }),
  ]);
  return { containers: ids(containers), networks: ids(networks), volumes: ids(volumes) };
}

/** Force-removes what compose down left behind (or what a crashed run created before compose recorded it). */
export async function removeObjects(host: DockerHost, objects: LabelledObjects, { volumes }: { volumes: boolean }): Promise<void> {
  // -v only when the volumes go too: with kept data, anonymous volumes are kept as compose keeps them.
  if (objects.containers.length > 0) await host.docker(['rm', volumes ? '-fv' : '-f', ...objects.containers]);
  if (objects.networks.length > 0) await host.docker(['network', 'rm', ...objects.networks]);
  if (volumes && objects.volumes.length > 0) await host.docker(['volume', 'rm', '-f', ...objects.volumes]);
}

export async function imageExists(host: DockerHost, image: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await host.docker(['image', 'inspect', '--format', '{{.Id}}', image], { signal });
    return true;
  } catch (error) {
    if (error instanceof TenantctlError && /No such image/i.test(error.message)) return false;
    throw error; // engine unreachable is not "image missing"
  }
}

/**
 * `--mount type=tmpfs` over every VOLUME the image declares, for a short-lived helper container:
 * otherwise each run creates an anonymous volume (for tenantctl/postgres, a copy of its initialised
 * data directory) that `--rm` does not always remove (two helpers ending at once leaked one on
 * Docker 20.10). Memory-only, nothing copied, gone with the container. `mounted`: the paths the
 * helper mounts something at itself (skipped).
 */
export async function tmpfsOverImageVolumes(host: DockerHost, image: string, signal?: AbortSignal, mounted: readonly string[] = []): Promise<string[]> {
  const declared = await host.docker(['image', 'inspect', '--format', '{{json .Config.Volumes}}', image], { signal });
  const volumes = Object.keys((JSON.parse(declared.trim() || 'null') as Record<string, unknown> | null) ?? {});
  // The image is the template's (not trusted): `--mount` is comma-separated key=value, and a later
  // key wins, so a VOLUME named "/x,type=bind,source=/" would bind the host's root into a helper
  // running as root. Only plain absolute paths are mounted over; any other refuses the helper.
  const odd = volumes.find((dst) => !safeMountPath.test(dst));
  if (odd !== undefined) throw new TenantctlError('usage', `image ${image} declares VOLUME ${JSON.stringify(odd.slice(0, 120))}: tenantctl runs helpers of an image only when each VOLUME is a plain absolute path (no comma, quote, = or control character)`);
  // A path the helper mounts a volume (or folder) at already is covered: a second mount there is refused.
  const taken = new Set(mounted.map(normalMountPath));
  return volumes.filter((dst) => !taken.has(normalMountPath(dst))).flatMap((dst) => tmpfsAt(dst, `image ${image}'s VOLUME`));
}

/**
 * `--mount type=tmpfs,dst=<dst>` for a helper, `dst` a plain absolute path or refused (exit 2), as
 * above: also for paths the tenant or its template name (a state piece's mount, the data directory
 * PostgreSQL reports), which reach the same comma-separated option. `what` names where it came from.
 */
export function tmpfsAt(dst: string, what: string): string[] {
  if (!safeMountPath.test(dst)) throw new TenantctlError('usage', `${what} ${JSON.stringify(dst.slice(0, 120))} is not a plain absolute path (no comma, quote, = or control character): tenantctl mounts no helper there`);
  return ['--mount', `type=tmpfs,dst=${dst}`];
}

const safeMountPath = /^\/[^,"'=\x00-\x1f\x7f]*$/;
/** "/data/", "//data" and "/data/." are the same mount point to Docker. */
const normalMountPath = (p: string) => {
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
};

/**
 * What `postgres --version` prints in a throwaway container of `image` (no network, tmpfs over its
 * VOLUMEs so no anonymous volume is left): how upgrade and a physical restore learn an image's
 * PostgreSQL major. `runOptions` go to `docker run` as they are (e.g. `--pull never`, a label).
 */
export async function postgresVersionOf(host: DockerHost, image: string, signal?: AbortSignal, runOptions: string[] = []): Promise<string> {
  return host.docker(['run', '--rm', ...runOptions, '--network', 'none', ...await tmpfsOverImageVolumes(host, image, signal), '--entrypoint', 'postgres', image, '--version'], { signal });
}

/** Which of `images` the host does not have: one docker call when all are there (the common case). */
export async function missingImages(host: DockerHost, images: string[], signal?: AbortSignal): Promise<string[]> {
  if (images.length === 0) return [];
  if (host.api) {
    const api = host.api;
    const settled = await api.getAll<unknown>(images.map((image) => `/images/${encodeURIComponent(image)}/json`), { signal, timeoutMs: dockerQueryTimeoutMs });
    const failed = settled.find((answer) => answer.status === 'rejected');
    if (failed) throw failed.reason;
    const found = settled.map((answer) => (answer as PromiseFulfilledResult<unknown>).value);
    return images.filter((_, i) => found[i] === undefined);
  }
  try {
    await host.docker(['image', 'inspect', '--format', '{{.Id}}', ...images], { signal });
    return [];
  } catch (error) {
    if (!(error instanceof TenantctlError && /No such image/i.test(error.message))) throw error; // engine unreachable is not "image missing"
  }
  const present = await Promise.all(images.map((image) => imageExists(host, image, signal)));
  return images.filter((_, i) => !present[i]);
}

/** Every IPv4 subnet of every Docker network on the host, whoever created it. */
export async function networkSubnets(host: DockerHost, signal?: AbortSignal): Promise<string[]> {
  if (host.api) {
    // The API's list carries each network's IPAM: one question, and no race with removals.
    const networks = (await host.api.get<Array<{ IPAM?: { Config?: Array<{ Subnet?: string }> | null } }>>('/networks', { signal, timeoutMs: dockerQueryTimeoutMs })) ?? [];
    return networks.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '')).filter((subnet) => subnet.includes('.'));
  }
  // A network removed between listing and inspecting (other stacks come and go) fails the whole
  // inspect ("No such network: X" from older clients, "network X not found" from newer). A network
  // that is gone uses no subnet: drop it and inspect the rest, so churn cannot exhaust the retries.
  let networkIds = ids(await host.docker(['network', 'ls', '-q'], { signal }));
  while (networkIds.length > 0) {
    try {
      const out = await host.docker(['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', ...networkIds], { signal });
      return out.split(/\s+/).filter((s) => s.includes('.'));
    } catch (error) {
      const gone = error instanceof TenantctlError ? /No such network:?\s*(\S+)|network (\S+) not found/i.exec(error.message) : null;
      const missing = gone?.[1] ?? gone?.[2];
      const remaining = missing ? networkIds.filter((id) => !missing.startsWith(id) && !id.startsWith(missing)) : networkIds;
      if (remaining.length === networkIds.length) throw error;
      networkIds = remaining;
    }
  }
  return [];
}

export interface ProjectObjects {
  project: string;
  /** `ports`: what the container publishes, as docker ps says it ("0.0.0.0:5440->5432/tcp, ..."). */
  containers: Array<{ id: string; service: string; state: string; ports?: string }>;
  networks: string[];
  volumes: string[];
}

/** Every compose project whose objects carry `label`, with its containers, networks and volumes: three docker calls. */
export async function projectsByLabel(host: DockerHost, label: string, signal?: AbortSignal): Promise<ProjectObjects[]> {
  const project = '{{.Label "com.docker.compose.project"}}';
  const [containers, networks, volumes] = await Promise.all([
    host.docker(['ps', '-a', '--filter', `label=${label}`, '--format', `${project}\t{{.ID}}\t{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.CreatedAt}}\t{{.Label "com.docker.swarm.task.id"}}\t{{.Ports}}`], { signal }),
    host.docker(['network', 'ls', '--filter', `label=${label}`, '--format', `${project}\t{{.Name}}`], { signal }),
    host.docker(['volume', 'ls', '--filter', `label=${label}`, '--format', `${project}\t{{.Name}}`], { signal }),
  ]);
  const found = new Map<string, ProjectObjects>();
  const of = (name: string) => {
    let entry = found.get(name);
    if (!entry) found.set(name, (entry = { project: name, containers: [], networks: [], volumes: [] }));
    return entry;
  };
  // A swarm stack's ended tasks keep their containers: only each service's newest task is the service's.
  const listed = ids(containers).map((line) => {
    const [name, id, service, state, created, task, ports] = line.split('\t');
    return { project: name ?? '', id: id ?? '', service: service ?? '', state: state ?? '', created: created ?? '', swarmTask: Boolean(task), ports: ports ?? '' };
  });
  const newestTask = new Map<string, (typeof listed)[number]>();
  for (const c of listed.filter((c) => c.swarmTask)) {
    const key = `${c.project}\t${c.service}`;
    const seen = newestTask.get(key);
    if (!seen || createdAfter(c.created, seen.created)) newestTask.set(key, c);
  }
  for (const c of listed) {
    if (!c.project || (c.swarmTask && newestTask.get(`${c.project}\t${c.service}`) !== c)) continue;
    of(c.project).containers.push({ id: c.id, service: c.service, state: c.state, ports: c.ports });
  }
  for (const line of ids(networks)) {
    const [name, network] = line.split('\t');
    if (name && network) of(name).networks.push(network);
  }
  for (const line of ids(volumes)) {
    const [name, volume] = line.split('\t');
    if (name && volume) of(name).volumes.push(volume);
  }
  return [...found.values()];
}

export interface ServiceContainer {
  id: string;
  name: string;
  service: string;
  project: string;
  tenant: string;
  /** created | running | restarting | exited | paused | dead */
  state: string;
}

/**
 * Containers tenantctl manages (label tenantctl.managed=true), each with its project, service and
 * tenant labels, from one `docker ps` call; `project` narrows to one compose project.
 */
export async function managedContainers(host: DockerHost, { project, signal }: { project?: string; signal?: AbortSignal } = {}): Promise<ServiceContainer[]> {
  const filters = ['--filter', 'label=tenantctl.managed=true', ...(project ? ['--filter', `label=com.docker.compose.project=${project}`] : [])];
  const format = '{{.ID}}\t{{.Names}}\t{{.Label "com.docker.compose.service"}}\t{{.Label "com.docker.compose.project"}}\t{{.Label "tenantctl.tenant"}}\t{{.State}}';
  const out = await host.docker(['ps', '-a', ...filters, '--format', format], { signal });
  return out.split('\n').filter((line) => line.trim()).map((line) => {
    const [id = '', name = '', service = '', proj = '', tenant = '', state = ''] = line.split('\t');
    return { id, name, service, project: proj, tenant, state };
  });
}

/** One line of `docker stats --no-stream --format '{{json .}}'`, as Docker prints it. */
export interface RawStats {
  ID: string;
  Name: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

/** One `docker stats --no-stream` call for the given containers (running ones: stopped ones have no figures). */
export async function containerStats(host: DockerHost, containerIds: string[], { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal }): Promise<RawStats[]> {
  if (containerIds.length === 0) return [];
  const out = await host.docker(['stats', '--no-stream', '--format', '{{json .}}', ...containerIds], { timeoutMs, signal });
  return out.split('\n').filter((line) => line.trim().startsWith('{')).map((line) => JSON.parse(line) as RawStats);
}
