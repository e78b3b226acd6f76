import getPort, { portNumbers } from 'get-port';
import type { PortRange, ServiceWithPort } from '../config/schema.js';

export type PortPlan = Record<ServiceWithPort, number>;

/** Is the port free on this host right now? get-port tries to listen on it, on every local interface. */
export async function isPortFreeOnHost(port: number): Promise<boolean> {
  return (await getPort({ port })) === port;
}

/** The first port of the range that is not excluded and free on the host, or undefined. */
export async function firstFreePort(range: PortRange, exclude: ReadonlySet<number>): Promise<number | undefined> {
  // get-port falls back to a random port when none of the candidates is free, so check the answer.
  const port = await getPort({ port: portNumbers(range.from, range.to), exclude: [...exclude] });
  return port >= range.from && port <= range.to && !exclude.has(port) ? port : undefined;
}

export type PortChoice = { ok: true; plan: PortPlan } | { ok: false; service: ServiceWithPort; reason: string };

/**
 * Chooses one port per service: ports held by other tenants (registry) and ports to avoid (e.g. ones
 * Docker just reported as taken) are skipped, and each candidate must be free on the host.
 * `fixedApp` (--port) is used as is or refused, never silently replaced.
 */
export async function choosePorts(
  ranges: Record<ServiceWithPort, PortRange>,
  held: ReadonlySet<number>,
  { fixedApp, isFree = isPortFreeOnHost, pick = firstFreePort }: {
    fixedApp?: number;
    isFree?: (port: number) => Promise<boolean>;
    pick?: (range: PortRange, exclude: ReadonlySet<number>) => Promise<number | undefined>;
  } = {},
): Promise<PortChoice> {
  const taken = new Set(held);
  const plan: Partial<PortPlan> = {};
  if (fixedApp !== undefined) {
    if (held.has(fixedApp)) return { ok: false, service: 'app', reason: `port ${fixedApp} is held by another tenant` };
    if (!(await isFree(fixedApp))) return { ok: false, service: 'app', reason: `port ${fixedApp} is already in use on this host` };
    plan.app = fixedApp;
    taken.add(fixedApp);
  }
  for (const service of ['app', 'db', 'redis'] as const) {
    if (plan[service] !== undefined) continue;
    const range = ranges[service];
    const port = await pick(range, taken);
    if (port === undefined) return { ok: false, service, reason: `no free port left in ${range.from}-${range.to}` };
    plan[service] = port;
    taken.add(port);
  }
  return { ok: true, plan: plan as PortPlan };
}
