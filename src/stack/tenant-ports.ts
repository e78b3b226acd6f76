import type { DockerHost } from '../engine/docker-host.js';
import { openExecTunnel, type ExecTunnel, type TunnelEnd } from '../engine/exec-tunnel.js';
import type { TemplateBlock } from '../templates/block-schema.js';
import { publicPortNames } from '../templates/private-ports.js';

// Where tenantctl dials a tenant's port (its readiness probes, the schema's login): the port its
// host publishes on a local compose engine; on a host that keeps ports private (a remote engine, a
// swarm node: DockerHost.keepsPortsPrivate) every port but the front door's is reached through the
// engine, a `docker exec` relay into the service's container (engine/exec-tunnel.ts). The front
// door's port stays published there (the door proxies to it from its own machine) and is dialled
// at the host's address.

export interface TenantPorts {
  /** Where to dial the tenant's port `name`. */
  endpoint(name: string): TunnelEnd;
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
  const ends = new Map<string, TunnelEnd>();
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
      const tunnel = await openExecTunnel(host, (signal) => runningContainerOf(host, input.project, declared.service, signal), declared.container, { signal: input.signal });
      tunnels.push(tunnel);
      ends.set(name, tunnel);
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

/** The running container of a compose project's service (on a swarm node: its task's container). */
async function runningContainerOf(host: DockerHost, project: string, service: string, signal?: AbortSignal): Promise<string | undefined> {
  const ids = await host.docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`, '--filter', 'status=running'], { signal });
  return ids.split('\n').map((id) => id.trim()).find(Boolean);
}
