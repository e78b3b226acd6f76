import type { Context } from '../context.js';
import { parseTenantId } from './input.js';
import { projectContainers } from '../stack/docker.js';
import { TenantRegistry, type TenantRecord } from './registry.js';

export interface ServiceStatus {
  service: string;
  container: string;
  state: string;
  health: string;
}

export interface StatusResult {
  tenant: TenantRecord;
  /** Its host ports by the template's names. */
  ports: Record<string, number>;
  /** running: every container up (and healthy where checked); degraded; stopped; missing: no containers */
  live: 'running' | 'degraded' | 'stopped' | 'missing';
  services: ServiceStatus[];
}

export async function status(ctx: Context, input: { id: unknown }): Promise<StatusResult> {
  const id = parseTenantId(input.id);
  const registry = new TenantRegistry(await ctx.adminDb());
  const tenant = await registry.require(id);
  const ports = await registry.portsOf(tenant);
  const containers = await projectContainers(ctx.dockerHost, tenant.composeProject, ctx.signal);
  const services = containers
    .map((c) => ({ service: c.service, container: c.name, state: c.status, health: c.health ?? 'none' }))
    .sort((a, b) => a.service.localeCompare(b.service));
  return { tenant, ports, live: liveState(services), services };
}

function liveState(services: ServiceStatus[]): StatusResult['live'] {
  if (services.length === 0) return 'missing';
  if (services.every((s) => s.state !== 'running')) return 'stopped';
  // "starting" only means Docker's first check (every 30 s) has not run yet; readiness is decided by
  // tenantctl's probes, so a running container is degraded only when its check says unhealthy.
  if (services.every((s) => s.state === 'running' && s.health !== 'unhealthy')) return 'running';
  return 'degraded';
}
