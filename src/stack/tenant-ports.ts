import type { DockerHost } from '../engine/docker-host.js';
import { connectCheck, openExecTunnel, type ExecTunnel, type TunnelEnd } from '../engine/exec-tunnel.js';
import { probeConnectTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import type { TemplateBlock } from '../templates/block-schema.js';
import { publicPortNames } from '../templates/private-ports.js';

// Where tenantctl dials a tenant's port (its readiness probes, the schema's login): the port its
// host publishes on a local compose engine; on a host that keeps ports private (a remote engine, a
// swarm node: DockerHost.keepsPortsPrivate) every port but the front door's is reached through the
// engine, a `docker exec` relay into the service's container (engine/exec-tunnel.ts). The front
// door's port stays published there (the door proxies to it from its own machine) and is dialled
// at the host's address.

/** Where to dial a port; a tunnelled one also says how to check it from inside its container. */
export interface PortEnd extends TunnelEnd {
  /**
   * A port reached through the engine: whether something accepts a TCP connection on it, asked
   * inside the container (the relay's local listener accepts every connection before the exec runs,
   * so a tcp probe of the listener would always pass). undefined: the port is dialled directly.
   */
  acceptsInside?: (signal?: AbortSignal) => Promise<{ ok: boolean; why: string }>;
}

export interface TenantPorts {
  /** Where to dial the tenant's port `name`. */
  endpoint(name: string): PortEnd;
  /** Ends the relays opened for it. */
  close(): Promise<void>;
}

export interface TenantPortsInput {
  project: string;
  bindAddress: string;
  block: Pick<TemplateBlock, 'ports' | 'frontdoor'>;
  /** The tenant's host ports by name (on record). */
  ports: Readonly<Record<string, number>>;
  /** The port names that will be dialled. */
  names: Iterable<string>;
  signal?: AbortSignal;
}

/** `host`: the engine holding the tenant's containers (a swarm tenant's node). */
export async function reachTenantPorts(host: DockerHost, input: TenantPortsInput): Promise<TenantPorts> {
  const published = new Set(host.keepsPortsPrivate ? publicPortNames(input.block) : Object.keys(input.block.ports));
  const ends = new Map<string, PortEnd>();
  const tunnels: ExecTunnel[] = [];
  try {
    for (const name of new Set(input.names)) {
      const declared = input.block.ports[name];
      const hostPort = input.ports[name];
      if (!declared || hostPort === undefined) continue; // endpoint() says so when it is asked
      if (published.has(name)) {
        ends.set(name, { host: host.probeAddress(input.bindAddress), port: hostPort });
        continue;
      }
      const find = (signal?: AbortSignal) => runningContainerOf(host, input.project, declared.service, signal);
      const tunnel = await openExecTunnel(host, find, declared.container, { signal: input.signal });
      tunnels.push(tunnel);
      ends.set(name, { host: tunnel.host, port: tunnel.port, socketPath: tunnel.socketPath, acceptsInside: (signal) => acceptsInside(host, find, declared.container, signal ?? input.signal) });
    }
  } catch (error) {
    await Promise.all(tunnels.map((t) => t.close()));
    throw error;
  }
  return {
    endpoint(name) {
      const end = ends.get(name);
      if (!end) throw new Error(`port ${name} of ${input.project} was not opened (declared and on record?)`);
      return end;
    },
    close: async () => {
      await Promise.all(tunnels.map((t) => t.close()));
    },
  };
}

/**
 * The running container of a compose project's service (on a swarm node: its task's container),
 * never a one-off one (`compose run`, `tenantctl exec` of a stopped service: oneoff=True), which
 * would take the relay to a container that is not the service. Filtered here rather than with
 * `--filter label=com.docker.compose.oneoff=False`: a swarm task's container has no such label.
 */
export async function runningContainerOf(host: DockerHost, project: string, service: string, signal?: AbortSignal): Promise<string | undefined> {
  const lines = await host.docker(['ps', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`, '--filter', 'status=running', '--format', '{{.ID}} {{.Label "com.docker.compose.oneoff"}}'], { signal });
  return serviceContainerIn(lines);
}

/** The first container of `docker ps` lines "<id> <oneoff label>" that is not a one-off. */
export function serviceContainerIn(lines: string): string | undefined {
  for (const line of lines.split('\n')) {
    const [id, oneoff] = line.trim().split(/\s+/);
    if (id && oneoff !== 'True') return id;
  }
  return undefined;
}

/** A tcp readiness check of a tunnelled port, run inside its container: the exit code of a bash /dev/tcp connect there. */
async function acceptsInside(host: DockerHost, find: (signal?: AbortSignal) => Promise<string | undefined>, port: number, signal?: AbortSignal): Promise<{ ok: boolean; why: string }> {
  const container = await find(signal).catch(ignoreFailure('a lookup that fails finds no container: not yet, asked again'));
  if (!container) return { ok: false, why: 'no running container' };
  const result = await host.run(['docker', 'exec', container, 'bash', '-c', connectCheck, 'check', String(port)], { timeoutMs: probeConnectTimeoutMs, signal });
  if (result.exitCode === 0) return { ok: true, why: '' };
  return { ok: false, why: result.timedOut ? 'timeout' : result.exitCode === 96 ? 'the container has no address' : `nothing accepts on port ${port} in the container` };
}
