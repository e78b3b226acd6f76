import type { DockerHost } from '../engine/docker-host.js';

// Where nginx dials a tenant's app first: the app container's own address on its network, not the
// published port. A connection to a published loopback port goes through the engine's userland proxy
// (docker-proxy), which copies every byte once more; measured by bench/frontdoor.mjs on a 2-core host
// it costs about as much CPU per request as the app itself (~70 us). nginx runs in the host's
// network namespace, which reaches every bridge network's containers directly (the host holds each
// bridge's gateway address), so this skips a hop without joining any tenant network.
//
// The address is read when the configuration is rendered (every sync: provision, start, stop, ...).
// A command that recreates the app without a sync (upgrade, rotate-secrets, restore) almost always
// gets the same address back (the engine hands out the lowest free one of the tenant's own subnet);
// when it does not, nginx falls back to the published port (render.ts: the backup server), so a
// stale address costs a failed connect, never a wrong tenant: the subnet is the tenant's alone.
// (Measured: an address held by another of the tenant's containers is refused at once; one nobody
// holds costs ~3 s, the kernel's failed ARP, once per fail_timeout.)

/** A tenant's app container as nginx dials it. */
export interface AppContainerAddress { address: string; port: number }

/**
 * The container that publishes each tenant's app port on the host, and its address: two docker calls
 * for all tenants. Tenants whose container is not running or has no address are left out (nginx then
 * dials the published port only).
 */
export async function appContainerAddresses(host: DockerHost, appPorts: ReadonlyMap<string, number>, signal?: AbortSignal): Promise<Map<string, AppContainerAddress>> {
  const found = new Map<string, AppContainerAddress>();
  if (appPorts.size === 0) return found;
  const listing = await host.docker(['ps', '--filter', 'label=tenantctl.managed=true', '--format', '{{.ID}}\t{{.Label "tenantctl.tenant"}}\t{{.Ports}}'], { signal });
  const containers = new Map<string, { tenant: string; port: number }>();
  for (const line of listing.split('\n')) {
    const [id, tenant, ports] = line.split('\t');
    const published = tenant ? appPorts.get(tenant) : undefined;
    if (!id || !tenant || published === undefined) continue;
    // "127.0.0.1:3002->3000/tcp, ...": the container port behind the tenant's app port.
    const match = new RegExp(`:${published}->(\\d+)/tcp`).exec(ports ?? '');
    if (match) containers.set(id, { tenant, port: Number(match[1]) });
  }
  if (containers.size === 0) return found;
  const inspected = await host.docker(['inspect', '--format', '{{.Id}}\t{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', ...containers.keys()], { signal });
  for (const line of inspected.split('\n')) {
    const [fullId, addresses] = line.split('\t');
    const entry = [...containers].find(([id]) => fullId?.startsWith(id))?.[1];
    const address = addresses?.split(' ').find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
    if (entry && address) found.set(entry.tenant, { address, port: entry.port });
  }
  return found;
}
