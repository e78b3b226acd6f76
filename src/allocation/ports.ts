import type { PortRange, ServiceWithPort } from '../config/schema.js';

export type PortPlan = Record<ServiceWithPort, number>;

/** What choosing ports needs to know about the Docker host (DockerHost answers it for its host). */
export interface PortChecker {
  isPortFree(port: number): Promise<boolean>;
  firstFreePort(range: PortRange, exclude: ReadonlySet<number>): Promise<number | undefined>;
}

export type PortChoice = { ok: true; plan: PortPlan } | { ok: false; service: ServiceWithPort; reason: string };

/**
 * Chooses one port per service: ports held by other tenants (registry) and ports to avoid (e.g. ones
 * Docker just reported as taken) are skipped, and each candidate must be free on the host.
 * `fixedApp` (--port) is used as is or refused, never silently replaced.
 */
export async function choosePorts(
  host: PortChecker,
  ranges: Record<ServiceWithPort, PortRange>,
  held: ReadonlySet<number>,
  { fixedApp }: { fixedApp?: number } = {},
): Promise<PortChoice> {
  const taken = new Set(held);
  const plan: Partial<PortPlan> = {};
  if (fixedApp !== undefined) {
    if (held.has(fixedApp)) return { ok: false, service: 'app', reason: `port ${fixedApp} is held by another tenant` };
    if (!(await host.isPortFree(fixedApp))) return { ok: false, service: 'app', reason: `port ${fixedApp} is already in use on this host` };
    plan.app = fixedApp;
    taken.add(fixedApp);
  }
  for (const service of ['app', 'db', 'redis'] as const) {
    if (plan[service] !== undefined) continue;
    const range = ranges[service];
    const port = await host.firstFreePort(range, taken);
    if (port === undefined) return { ok: false, service, reason: `no free port left in ${range.from}-${range.to}` };
    plan[service] = port;
    taken.add(port);
  }
  return { ok: true, plan: plan as PortPlan };
}
