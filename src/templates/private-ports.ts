import { parse, parseDocument, isMap, isSeq, isScalar, type YAMLMap } from 'yaml';
import { TemplateError } from './render-compose.js';
import type { TemplateBlock } from './block-schema.js';

// On a remote engine (and on every swarm node) a published port is on the host's own interfaces:
// Docker's iptables rules bypass the host's firewall, and other tenants' containers reach it
// through the host's address. A loopback binding is no help there (probes and the front door run
// on another machine), so a tenant's ports other than the one the front door proxies to are not
// published at all on such hosts: tenantctl reaches them through the engine (`docker exec` into
// the service's container, engine/exec-tunnel.ts), which every consumer (readiness probes, the
// schema, psql, redis-cli, backups) already or now does.

/** The port names published on a host that keeps ports private: the front door's, nothing else. */
export function publicPortNames(block: Pick<TemplateBlock, 'frontdoor'>): Set<string> {
  return new Set(block.frontdoor ? [block.frontdoor.port] : []);
}

/**
 * The rendered compose document without the `ports:` entries that publish a tenant's private
 * ports (every declared port but the front door's): the entry of service `port.service` whose
 * published port is the tenant's. A service left with no ports loses the key. Everything else of
 * the document (comments, quoting, order) stays as rendered.
 */
export function unpublishPrivatePorts(rendered: string, block: Pick<TemplateBlock, 'ports' | 'frontdoor'>, ports: Readonly<Record<string, number>>): string {
  const keep = publicPortNames(block);
  const privateByService = new Map<string, Set<number>>();
  for (const [name, declared] of Object.entries(block.ports)) {
    const published = ports[name];
    if (keep.has(name) || published === undefined) continue;
    const set = privateByService.get(declared.service) ?? new Set<number>();
    set.add(published);
    privateByService.set(declared.service, set);
  }
  if (privateByService.size === 0) return rendered;
  const out = removePrivateEntries(rendered, privateByService);
  refuseStillPublished(out, new Set([...privateByService.values()].flatMap((set) => [...set])));
  return out;
}

/** The rewrite itself: the `ports:` entries of the named services that publish one of their private ports. */
function removePrivateEntries(rendered: string, privateByService: ReadonlyMap<string, ReadonlySet<number>>): string {
  const document = parseDocument(rendered, { merge: true });
  const services = document.get('services');
  if (!isMap(services)) return rendered;
  let changed = false;
  for (const [service, published] of privateByService) {
    const definition = services.get(service);
    if (!isMap(definition)) continue;
    const list = (definition as YAMLMap).get('ports');
    if (!isSeq(list)) continue;
    const before = list.items.length;
    list.items = list.items.filter((item) => {
      const port = publishedPortOf(isScalar(item) ? item.value : isMap(item) ? item.toJSON() : undefined);
      return port === undefined || !published.has(port);
    });
    if (list.items.length === before) continue;
    changed = true;
    if (list.items.length === 0) (definition as YAMLMap).delete('ports');
  }
  return changed ? document.toString({ lineWidth: 0 }) : rendered;
}

/** The host port a compose `ports:` entry publishes: "[ip:]published:target[/proto]" or the long form. */
export function publishedPortOf(entry: unknown): number | undefined {
  if (entry && typeof entry === 'object' && 'published' in entry) return Number((entry as { published: unknown }).published);
  const match = /^(?:(?:\[[^\]]+\]|[^:]+):)?(\d+):\d+(?:\/(?:tcp|udp))?$/.exec(String(entry));
  return match ? Number(match[1]) : undefined;
}

/**
 * Fail closed: the rewrite edits the `ports:` lists it sees, and a list reached through a YAML
 * alias (`ports: *x`) or a merge key (`<<: *defaults`) is not one of them. The result is read back
 * as compose reads it (merge keys resolved, aliases expanded): any service that still publishes one
 * of the tenant's private host ports, under whatever name, is refused (TemplateError: exit 2).
 */
export function refuseStillPublished(rendered: string, privatePorts: ReadonlySet<number>): void {
  const tree = parse(rendered, { merge: true, maxAliasCount: -1 }) as { services?: Record<string, { ports?: unknown; network_mode?: unknown } | null> } | null;
  for (const [service, definition] of Object.entries(tree?.services ?? {})) {
    if (definition?.network_mode === 'host' && privatePorts.size > 0) {
      throw new TemplateError(`service ${service} uses network_mode: host, which puts every port of it on the host's interfaces; a remote host or a swarm publishes a tenant's front-door port only`);
    }
    const list = Array.isArray(definition?.ports) ? definition.ports : [];
    for (const entry of list) {
      const hit = publishedPortsOf(entry).find((port) => privatePorts.has(port));
      if (hit !== undefined) {
        throw new TemplateError(`service ${service} still publishes private port ${hit} after the rewrite (a YAML alias or merge key the rewrite cannot edit?); a remote host or a swarm publishes a tenant's front-door port only: write that service's ports: as a plain list`);
      }
    }
  }
}

/** Every host port an entry publishes, ranges ("5440-5442:5432-5434") included. */
function publishedPortsOf(entry: unknown): number[] {
  if (entry && typeof entry === 'object' && 'published' in entry) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(String((entry as { published: unknown }).published));
    return range ? rangeOf(Number(range[1]), Number(range[2] ?? range[1])) : [];
  }
  const match = /^(?:(?:\[[^\]]+\]|[^:]+):)?(\d+)(?:-(\d+))?:\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/.exec(String(entry));
  return match ? rangeOf(Number(match[1]), Number(match[2] ?? match[1])) : [];
}

const rangeOf = (from: number, to: number): number[] => (to >= from && to - from < 65536 ? Array.from({ length: to - from + 1 }, (_, i) => from + i) : [from]);
