import { run, lastErrorLine } from '../exec.js';
import { TenantctlError } from '../errors.js';

const dockerTimeoutMs = 30_000;

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
}

async function docker(args: string[], signal?: AbortSignal): Promise<string> {
  let result;
  try {
    result = await run(['docker', ...args], { timeoutMs: dockerTimeoutMs, signal });
  } catch (error) {
    throw new TenantctlError('docker', 'the docker CLI is not installed (on Debian: apt-get install docker.io)', { cause: error });
  }
  if (result.cancelled) throw new TenantctlError('interrupted', `docker ${args[0]} was cancelled`);
  if (result.exitCode !== 0) {
    const line = lastErrorLine(result.stderrTail);
    if (/Cannot connect to the Docker daemon|Is the docker daemon running|permission denied while trying to connect/i.test(line)) {
      throw new TenantctlError('docker', `the Docker engine is not reachable: ${line}`);
    }
    throw new TenantctlError('docker', `docker ${args.slice(0, 2).join(' ')} failed: ${line}`);
  }
  return result.stdout;
}

const ids = (stdout: string) => stdout.split('\n').map((s) => s.trim()).filter(Boolean);

/** Ids of one compose project's containers (compose labels every container it creates). */
export async function projectContainerIds(project: string, signal?: AbortSignal): Promise<string[]> {
  return ids(await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], signal));
}

/**
 * State and health of the given containers, as Docker itself reports them (compose's own `ps`
 * format varies by version). Undefined when one of them no longer exists.
 */
export async function inspectContainers(containerIds: string[], signal?: AbortSignal): Promise<ContainerState[] | undefined> {
  if (containerIds.length === 0) return [];
  let inspected: any[];
  try {
    inspected = JSON.parse(await docker(['inspect', ...containerIds], signal));
  } catch (error) {
    if (error instanceof TenantctlError && /No such/i.test(error.message)) return undefined;
    throw error;
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
    };
  });
}

/** Containers of one compose project with their state and health. */
export async function projectContainers(project: string, signal?: AbortSignal): Promise<ContainerState[]> {
  for (;;) {
    const states = await inspectContainers(await projectContainerIds(project, signal), signal);
    if (states) return states; // else one vanished between the two calls: ask again
  }
}

export interface LabelledObjects {
  containers: string[];
  networks: string[];
  volumes: string[];
}

/** Everything Docker holds for one tenant, found by the label every object of its stack carries. */
export async function objectsByLabel(label: string, signal?: AbortSignal): Promise<LabelledObjects> {
  const filter = ['--filter', `label=${label}`];
  const [containers, networks, volumes] = await Promise.all([
    docker(['ps', '-aq', ...filter], signal),
    docker(['network', 'ls', '-q', ...filter], signal),
    docker(['volume', 'ls', '-q', ...filter], signal),
  ]);
  return { containers: ids(containers), networks: ids(networks), volumes: ids(volumes) };
}

/** Force-removes what compose down left behind (or what a crashed run created before compose recorded it). */
export async function removeObjects(objects: LabelledObjects, { volumes }: { volumes: boolean }): Promise<void> {
  if (objects.containers.length > 0) await docker(['rm', '-fv', ...objects.containers]);
  if (objects.networks.length > 0) await docker(['network', 'rm', ...objects.networks]);
  if (volumes && objects.volumes.length > 0) await docker(['volume', 'rm', '-f', ...objects.volumes]);
}

export async function imageExists(image: string): Promise<boolean> {
  try {
    await docker(['image', 'inspect', '--format', '{{.Id}}', image]);
    return true;
  } catch (error) {
    if (error instanceof TenantctlError && /No such image/i.test(error.message)) return false;
    throw error; // engine unreachable is not "image missing"
  }
}

export type LiveState = 'running' | 'stopped' | 'missing';

/**
 * The live state of every tenantctl-managed compose project, from one `docker ps` call (listing a
 * thousand tenants must not cost a thousand calls): running when all its containers run, stopped
 * when any does not, and projects with no container are simply absent (missing).
 */
export async function liveStatesByProject(signal?: AbortSignal): Promise<Map<string, LiveState>> {
  const out = await docker(['ps', '-a', '--filter', 'label=tenantctl.managed=true', '--format', '{{.Label "com.docker.compose.project"}}\t{{.State}}'], signal);
  const states = new Map<string, LiveState>();
  for (const line of out.split('\n')) {
    const [project, state] = line.split('\t');
    if (!project) continue;
    const running = state === 'running';
    states.set(project, states.get(project) === 'stopped' || !running ? 'stopped' : 'running');
  }
  return states;
}

/** Every IPv4 subnet of every Docker network on the host, whoever created it. */
export async function networkSubnets(signal?: AbortSignal): Promise<string[]> {
  const networkIds = ids(await docker(['network', 'ls', '-q'], signal));
  if (networkIds.length === 0) return [];
  const out = await docker(['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', ...networkIds], signal).catch((error) => {
    if (error instanceof TenantctlError && /No such network/i.test(error.message)) return ''; // removed meanwhile; next try sees the rest
    throw error;
  });
  return out.split(/\s+/).filter((s) => s.includes('.'));
}
