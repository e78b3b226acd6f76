import type { PortRange } from '../config/schema.js';

/** One host port per name (a template's x-tenantctl.ports: crm's app, db and redis). */
export type PortPlan = Record<string, number>;

/** What choosing ports needs to know about the Docker host (DockerHost answers it for its host). */
export interface PortChecker {
  isPortFree(port: number): Promise<boolean>;
  firstFreePort(range: PortRange, exclude: ReadonlySet<number>): Promise<number | undefined>;
}

export type PortChoice = { ok: true; plan: PortPlan } | { ok: false; service: string; reason: string };

/**
 * Chooses one port per name, in the ranges' order: ports held by other tenants (registry), ports to
 * avoid (e.g. ones Docker just reported as taken) and ports already chosen for this tenant are
 * skipped, and each candidate must be free on the host. Ranges may overlap: reservations are per
 * port. `fixed` (--port, for the template's front door port) is used as is or refused, never
 * silently replaced.
 */
export async function choosePorts(
  host: PortChecker,
  ranges: Readonly<Record<string, PortRange>>,
  held: ReadonlySet<number>,
  { fixed }: { fixed?: { name: string; port: number } } = {},
): Promise<PortChoice> {
  const taken = new Set(held);
  const plan: PortPlan = {};
  if (fixed !== undefined) {
    if (held.has(fixed.port)) return { ok: false, service: fixed.name, reason: `port ${fixed.port} is held by another tenant` };
    if (!(await host.isPortFree(fixed.port))) return { ok: false, service: fixed.name, reason: `port ${fixed.port} is already in use on this host` };
    plan[fixed.name] = fixed.port;
    taken.add(fixed.port);
  }
  for (const [name, range] of Object.entries(ranges)) {
    if (plan[name] !== undefined) continue;
    const port = await host.firstFreePort(range, taken);
    if (port === undefined) return { ok: false, service: name, reason: `no free port left in ${range.from}-${range.to}` };
    plan[name] = port;
    taken.add(port);
  }
  return { ok: true, plan };
}
