import type { AdminDb } from '../admin-db/database.js';
import type { Context } from '../context.js';
import { hostsNamed } from '../hosts/resolve.js';
import { hostProbeTimeoutMs } from '../common/timeouts.js';
import type { DockerHost } from '../engine/docker-host.js';
import { tenantNodes, type SwarmNode } from '../swarm/swarm-stack.js';
import { loadRoutes, type RegistryRoute } from './domains.js';

// Which tenants this machine's front door serves, across the fleet: those on this environment's
// Docker host, and those on every registered host this machine reaches (tenantctl hosts add). A
// remote host publishes its tenants' ports on its own interfaces (DockerHost.publishAddress), so
// nginx dials <that host's address>:<app port>; after `move` the next sync points it at the new
// host. A swarm tenant publishes on the node its stack is pinned to, so nginx dials that node.
// Tenants of an implicit host that only another environment reaches stay out: that environment's
// own front door serves them.

export type ServedRoute = RegistryRoute & {
  /** Where the tenant's Docker host publishes its app port, when that host is not this machine's engine. */
  publishedAddress?: string;
};

export async function servedRoutes(ctx: Context, db: AdminDb): Promise<ServedRoute[]> {
  const routes = await loadRoutes(db);
  const others = [...new Set(routes.map((r) => r.host))].filter((name) => name !== ctx.dockerHost.id);
  // Building a DockerHost asks no engine anything: a host that is down is still routed (nginx answers 502 for it).
  const hosts: Map<string, DockerHost> = others.length > 0 ? await hostsNamed(ctx, others) : new Map();
  hosts.set(ctx.dockerHost.id, ctx.dockerHost);
  const nodes = await swarmTenantNodes(ctx, [...new Set(routes.map((r) => hosts.get(r.host)))].filter((h): h is DockerHost => h?.kind === 'swarm'));
  return routes.flatMap((route): ServedRoute[] => {
    const host = hosts.get(route.host);
    if (!host) return [];
    // This environment's own compose host: nginx dials the app container itself (app-addresses.ts).
    if (host === ctx.dockerHost && host.kind !== 'swarm') return [route];
    return [{ ...route, publishedAddress: publishedAddressOf(host, nodes.get(host)?.get(route.id), ctx.config.bindAddress) }];
  });
}

/**
 * Where a tenant's host publishes its app port: a swarm tenant on the node its stack is pinned to
 * (the manager's address only while the node is not known), any other on its host's address.
 */
export function publishedAddressOf(host: DockerHost, node: SwarmNode | undefined, bindAddress: string): string {
  const publishing = host.kind === 'swarm' && node ? host.sibling(node.hostname, node.address) : host;
  return publishing.probeAddress(bindAddress);
}

/**
 * The node of every tenant of each swarm host, asked of its manager with a short timeout. A manager
 * that does not answer is still routed, at its own address (nginx answers 502 until it is back).
 */
async function swarmTenantNodes(ctx: Context, managers: DockerHost[]): Promise<Map<DockerHost, Map<string, SwarmNode>>> {
  const answers = await Promise.all(managers.map(async (manager) => [manager, await tenantNodes(manager, { signal: ctx.signal, timeoutMs: hostProbeTimeoutMs }).catch((error: unknown) => {
    if (ctx.signal.aborted) throw error;
    return new Map<string, SwarmNode>();
  })] as const));
  return new Map(answers);
}
