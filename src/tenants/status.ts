import type { Context } from '../context.js';
import { parseTenantId } from './input.js';
import { projectContainers } from '../stack/project-state.js';
import { TenantRegistry, type TenantRecord } from './registry.js';
import { OperationJournal } from '../operations/journal.js';
import { readFile } from 'node:fs/promises';
import { tenantPaths } from './files.js';
import { servicesOf } from './day2-target.js';
import { ignoreFailure } from '../common/ignore-failure.js';

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
  /** An operation a run left unfinished (killed, or running now): the next command on the tenant settles it. */
  operation: { verb: string; step: string; startedAt: string; actor: string } | null;
  /** Active, every container running (none unhealthy) and no operation in flight: what exit 0 means. */
  healthy: boolean;
}

/**
 * `status`'s exit code, so scripts can use it as proof: 0 healthy; 7 active but a container is not
 * running or is unhealthy; 5 any other status, or an operation in flight; 3 deprovisioned.
 */
export function statusExit(s: StatusResult): { kind: 'notReady' | 'conflict' | 'notFound'; message: string } | undefined {
  const t = s.tenant;
  // An operation first: a tenant being moved or restored is detached (deprovisioned) for a while.
  if (s.operation) return { kind: 'conflict', message: `${t.id} has an unfinished ${s.operation.verb} (at step ${s.operation.step}); the next command on it settles it` };
  if (t.status === 'deprovisioned') return { kind: 'notFound', message: `${t.id} is deprovisioned` };
  if (t.status === 'suspended') return { kind: 'conflict', message: `${t.id} is suspended: ${t.suspension?.reason ?? 'no reason recorded'} (tenantctl resume ${t.id})` };
  if (t.status !== 'active') return { kind: 'conflict', message: `${t.id} is ${t.status}, not active` };
  if (s.live !== 'running') return { kind: 'notReady', message: `${t.id} is active but its containers are ${s.live}` };
  return undefined;
}

export async function status(ctx: Context, input: { id: unknown }): Promise<StatusResult> {
  const id = parseTenantId(input.id);
  const registry = new TenantRegistry(await ctx.adminDb());
  const tenant = await registry.require(id);
  const ports = await registry.portsOf(tenant);
  const [containers, pending] = await Promise.all([
    projectContainers(ctx.dockerHost, tenant.composeProject, ctx.signal),
    new OperationJournal(await ctx.adminDb()).pending(id),
  ]);
  const services = containers
    .map((c) => ({ service: c.service, container: c.name, state: c.status, health: c.health ?? 'none' }))
    .sort((a, b) => a.service.localeCompare(b.service));
  // A service of its stack with no container at all is not running either: shown as missing.
  const rendered = await readFile(tenantPaths(ctx.config.customersDir, id).composeFile, 'utf8').catch(ignoreFailure('no rendered file: no services are expected from it'));
  if (rendered !== undefined && services.length > 0) {
    for (const service of servicesOf(rendered, tenant.profiles)) {
      if (!services.some((s) => s.service === service)) services.push({ service, container: '-', state: 'missing', health: 'none' });
    }
    services.sort((a, b) => a.service.localeCompare(b.service));
  }
  const operation = pending ? { verb: pending.verb, step: pending.step, startedAt: pending.startedAt, actor: pending.actor } : null;
  const result = { tenant, ports, live: liveState(services), services, operation, healthy: false };
  result.healthy = statusExit(result) === undefined;
  return result;
}

function liveState(services: ServiceStatus[]): StatusResult['live'] {
  if (services.length === 0) return 'missing';
  if (services.every((s) => s.state !== 'running')) return 'stopped';
  // "starting" only means Docker's first check (every 30 s) has not run yet; readiness is decided by
  // tenantctl's probes, so a running container is degraded only when its check says unhealthy.
  if (services.every((s) => s.state === 'running' && s.health !== 'unhealthy')) return 'running';
  return 'degraded';
}
