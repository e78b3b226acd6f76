import { TenantctlError } from '../common/errors.js';
import { dockerQueryTimeoutMs } from '../common/timeouts.js';
import type { DockerHost } from '../engine/docker-host.js';
import { currentContainers, inspectContainers, projectContainerIds, type ContainerState } from '../engine/docker.js';
import { filtersQuery } from '../engine/engine-api.js';

// What a tenant's stack runs, wherever its host runs it: a compose project's containers on the
// engine itself, a swarm stack's on the node it is pinned to (swarm/swarm-stack.ts), asked of the manager.

/** Containers of one compose project with their state and health. */
export async function projectContainers(manager: DockerHost, project: string, signal?: AbortSignal): Promise<ContainerState[]> {
  // A swarm tenant's containers are on the node its stack is pinned to (swarm/swarm-stack.ts).
  const host = manager.kind === 'swarm' ? await (await import('../swarm/swarm-stack.js')).swarmNodeHost(manager, project, signal) : manager;
  // A container can vanish between listing and inspecting (a restart policy, a re-create): ask
  // again, a few times at most.
  for (let attempt = 1; ; attempt++) {
    const states = await inspectContainers(host, await projectContainerIds(host, project, signal), signal);
    if (states) return currentContainers(states);
    if (attempt >= 5) throw new TenantctlError('docker', `the containers of ${project} kept changing while being inspected`);
  }
}

export type LiveState = 'running' | 'stopped' | 'missing';

/**
 * The live state of every tenantctl-managed compose project, from one `docker ps` call (listing a
 * thousand tenants must not cost a thousand calls): running when all its containers run, stopped
 * when any does not, and projects with no container are simply absent (missing).
 */
export async function liveStatesByProject(host: DockerHost, signal?: AbortSignal): Promise<Map<string, LiveState>> {
  const managed = 'tenantctl.managed=true';
  if (host.kind === 'swarm') return (await import('../swarm/swarm-stack.js')).stackStates(host, signal);
  const pairs = host.api
    ? ((await host.api.get<Array<{ Labels?: Record<string, string>; State?: string }>>(`/containers/json?all=true&${filtersQuery({ label: [managed] })}`, { signal, timeoutMs: dockerQueryTimeoutMs })) ?? [])
        .map((c) => [c.Labels?.['com.docker.compose.project'] ?? '', c.State ?? ''])
    : (await host.docker(['ps', '-a', '--filter', `label=${managed}`, '--format', '{{.Label "com.docker.compose.project"}}\t{{.State}}'], { signal })).split('\n').map((line) => line.split('\t'));
  const states = new Map<string, LiveState>();
  for (const [project, state] of pairs) {
    if (!project) continue;
    const running = state === 'running';
    states.set(project, states.get(project) === 'stopped' || !running ? 'stopped' : 'running');
  }
  return states;
}
