import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { waitUntilReady } from '../stack/readiness.js';
import type { ContainerState } from '../engine/docker.js';
import type { Template } from '../templates/template.js';
import { templateValues, type TenantValues } from '../templates/values.js';
import { hostValuesOf, servicesOfProfilesOff } from '../templates/configured.js';
import { readinessPortNames, tenantReadiness } from './readiness.js';
import { reachTenantPorts } from '../stack/tenant-ports.js';
import { TenantRegistry, type TenantRecord } from './registry.js';
import { loadTenantTemplate } from './tenant-template.js';

export interface ReadyTarget {
  project: string;
  rendered: string;
  template: Pick<Template, 'name' | 'block'>;
  tenant: TenantValues;
  secrets: Readonly<Record<string, string>>;
  profiles: readonly string[];
}

/**
 * Waits until a tenant's stack is ready by its template's definition (tenantReadiness: every
 * container runs, and each service answers its declared probe; crm's: PostgreSQL takes the app's
 * login, Redis answers, GET /api/ready, the worker's heartbeat), probing through the ports its Docker
 * host publishes, with the configured deadline. Used by provision, `start` and `restart`; exit 7
 * with each waiting service and why at the deadline. Returns the containers as the last round saw
 * them; `onReady` hears each service as it becomes ready.
 */
export async function waitForTenantReady(ctx: Context, target: ReadyTarget, { onReady, only }: { onReady?: (service: string) => void; only?: readonly string[] } = {}): Promise<ContainerState[]> {
  const off = servicesOfProfilesOff(target.template, target.profiles);
  const missing = Object.entries(target.template.block.ports).filter(([name, port]) => !off.has(port.service) && target.tenant.ports[name] === undefined).map(([name]) => name);
  if (missing.length > 0) {
    throw new TenantctlError('conflict', `${target.project} has no port ${missing.join(', ')} on record; it cannot be probed (tenantctl status)`);
  }
  const address = ctx.dockerHost.probeAddress(ctx.config.bindAddress);
  const values = templateValues(target.template, target.tenant, hostValuesOf(ctx.config));
  // Ports the host does not publish (a remote host's PostgreSQL and Redis) are dialled through the engine.
  const reach = await reachTenantPorts(ctx.dockerHost, {
    project: target.project, bindAddress: ctx.config.bindAddress, block: target.template.block, ports: target.tenant.ports,
    names: readinessPortNames(target.template.block).filter((name) => target.tenant.ports[name] !== undefined), signal: ctx.signal,
  });
  try {
    // `only`: these services alone (a suspended tenant's state services, started for a backup).
    const services = tenantReadiness(target.rendered, target.template.block, { address, ports: target.tenant.ports, secrets: target.secrets, profiles: target.profiles, values, endpoint: reach.endpoint })
      .filter((s) => !only || only.includes(s.name));
    const started = ctx.clock.now();
    return await waitUntilReady(ctx.dockerHost, target.project, services, {
      deadlineMs: ctx.config.healthDeadlineSeconds * 1000,
      clock: ctx.clock,
      signal: ctx.signal,
      onReady: (service) => {
        ctx.reporter.info(`${service} ready (${((ctx.clock.now() - started) / 1000).toFixed(1)} s)`);
        onReady?.(service);
      },
    });
  } finally {
    await reach.close();
  }
}

/** A tenant on record, ready to be waited for: its template, its ports by name, its profiles. */
export async function readyTargetOf(ctx: Context, record: TenantRecord, rendered: string, secrets: Readonly<Record<string, string>>, rendering?: Template): Promise<ReadyTarget> {
  // The template the file was rendered from (upgrade --template), else the tenant's own.
  const template = rendering ?? await loadTenantTemplate(ctx, record);
  const ports = await new TenantRegistry(await ctx.adminDb()).portsOf(record);
  return {
    project: record.composeProject,
    rendered,
    template,
    tenant: { id: record.id, name: record.name, plan: record.plan as TenantValues['plan'], subnet: record.subnet ?? '', ports },
    secrets,
    profiles: record.profiles,
  };
}
