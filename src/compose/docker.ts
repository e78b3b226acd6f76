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

/** Containers of one compose project, as Docker itself reports them (compose's own `ps` format varies by version). */
export async function projectContainers(project: string, signal?: AbortSignal): Promise<ContainerState[]> {
  const containerIds = ids(await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], signal));
  if (containerIds.length === 0) return [];
  let inspected: any[];
  try {
    inspected = JSON.parse(await docker(['inspect', ...containerIds], signal));
  } catch (error) {
    if (error instanceof TenantctlError && /No such/i.test(error.message)) return projectContainers(project, signal); // one vanished meanwhile
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

export async function dockerExec(container: string, argv: string[], timeoutMs = dockerTimeoutMs) {
  return run(['docker', 'exec', container, ...argv], { timeoutMs });
}
