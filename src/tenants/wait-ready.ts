import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { waitUntilReady } from '../stack/readiness.js';
import type { ContainerState } from '../stack/docker.js';
import type { PortPlan } from '../allocation/ports.js';
import type { TenantSecrets } from '../secrets/generate.js';
import { tenantReadiness } from './readiness.js';

/**
 * Waits until a tenant's stack is ready by provision's own definition (tenantReadiness: every
 * container runs, PostgreSQL takes the app's login, Redis answers, GET /api/ready, the worker's
 * heartbeat), probing through the ports its Docker host publishes, with the configured deadline.
 * Used by provision, `start` and `restart`; exit 7 with each waiting service and why at the deadline.
 * Returns the containers as the last round saw them; `onReady` hears each service as it becomes ready.
 */
export async function waitForTenantReady(
  ctx: Context,
  { project, rendered, ports, secrets }: { project: string; rendered: string; ports: { app: number | null; db: number | null; redis: number | null }; secrets: TenantSecrets },
  { onReady }: { onReady?: (service: string) => void } = {},
): Promise<ContainerState[]> {
  if (ports.app === null || ports.db === null || ports.redis === null) {
    throw new TenantctlError('conflict', `${project} has no ports on record; it cannot be probed (tenantctl status)`);
  }
  const address = ctx.dockerHost.probeAddress(ctx.config.bindAddress);
  const started = ctx.clock.now();
  return waitUntilReady(ctx.dockerHost, project, tenantReadiness(rendered, { address, ports: ports as PortPlan, secrets }), {
    deadlineMs: ctx.config.healthDeadlineSeconds * 1000,
    clock: ctx.clock,
    signal: ctx.signal,
    onReady: (service) => {
      ctx.reporter.info(`${service} ready (${((ctx.clock.now() - started) / 1000).toFixed(1)} s)`);
      onReady?.(service);
    },
  });
}
