import type { Context } from '../context.js';
import type { DockerHost } from '../engine/docker-host.js';
import type { ComposeTarget } from '../stack/compose-argv.js';
import type { TenantRuntime } from './tenant-runtime.js';

// Which runtime a tenant has, from its recorded host; each is loaded only when asked for.

/** The tenant's runtime on `host` (its recorded host): a swarm manager gives the swarm runtime, any other engine compose's. */
export async function runtimeFor(host: DockerHost, target: ComposeTarget, signal?: AbortSignal): Promise<TenantRuntime> {
  if (host.kind === 'swarm') {
    const { SwarmRuntime } = await import('./swarm-runtime.js');
    return SwarmRuntime.on(host, target.project, signal);
  }
  const { ComposeRuntime } = await import('./compose-runtime.js');
  return new ComposeRuntime(host, target);
}

/** The context with the engine holding the tenant's containers (a swarm tenant's node): where its containers are looked at and its ports probed. */
export function onContainers(ctx: Context, runtime: TenantRuntime): Context {
  return runtime.containers === ctx.dockerHost ? ctx : { ...ctx, dockerHost: runtime.containers };
}
