import type { AdminDb } from '../admin-db/database.js';
import type { Context } from '../context.js';
import { hostsNamed } from '../hosts/resolve.js';
import { loadRoutes, type RegistryRoute } from './domains.js';

// Which tenants this machine's front door serves, across the fleet: those on this environment's
// Docker host, and those on every registered host this machine reaches (tenantctl hosts add). A
// remote host publishes its tenants' ports on its own interfaces (DockerHost.publishAddress), so
// nginx dials <that host's address>:<app port>; after `move` the next sync points it at the new
// host. Tenants of an implicit host that only another environment reaches stay out: that
// environment's own front door serves them.

export type ServedRoute = RegistryRoute & {
  /** Where the tenant's Docker host publishes its app port, when that host is not this machine's engine. */
  publishedAddress?: string;
};

export async function servedRoutes(ctx: Context, db: AdminDb): Promise<ServedRoute[]> {
  const routes = await loadRoutes(db);
  const others = [...new Set(routes.map((r) => r.host))].filter((name) => name !== ctx.dockerHost.id);
  // Building a DockerHost asks no engine anything: a host that is down is still routed (nginx answers 502 for it).
  const hosts = others.length > 0 ? await hostsNamed(ctx, others) : new Map();
  return routes.flatMap((route): ServedRoute[] => {
    if (route.host === ctx.dockerHost.id) return [route];
    const host = hosts.get(route.host);
    if (!host) return [];
    return [{ ...route, publishedAddress: host.probeAddress(ctx.config.bindAddress) }];
  });
}
