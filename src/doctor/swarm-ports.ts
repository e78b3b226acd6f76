import type { DockerHost } from '../engine/docker-host.js';
import type { SwarmPublishedPort } from './findings.js';

// What a swarm's tenant services publish, asked of the manager once for the doctor: the ports each
// service's endpoint spec names, with their publish mode. A port on the ingress routing mesh is on
// no container (docker ps shows nothing for it), so the containers' Ports column cannot tell it.

/** Every published port of the swarm's tenant services (label tenantctl.managed=true), by stack. */
export async function swarmServicePorts(manager: DockerHost, signal?: AbortSignal): Promise<SwarmPublishedPort[]> {
  const ids = (await manager.docker(['service', 'ls', '-q', '--filter', 'label=tenantctl.managed=true'], { signal })).split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  const out = await manager.docker(['service', 'inspect', '--format', '{{json .Spec.Name}}\t{{json (index .Spec.Labels "com.docker.stack.namespace")}}\t{{json .Spec.EndpointSpec}}', ...ids], { signal });
  return parseServicePorts(out);
}

/** `docker service inspect` lines (name, stack, endpoint spec, tab-separated JSON) -> published ports. Pure. */
export function parseServicePorts(out: string): SwarmPublishedPort[] {
  const ports: SwarmPublishedPort[] = [];
  for (const line of out.split('\n').filter(Boolean)) {
    const [name, stack, spec] = line.split('\t').map((part) => JSON.parse(part) as unknown);
    if (typeof name !== 'string' || typeof stack !== 'string' || !stack) continue;
    // A stack's services are named <stack>_<service>.
    const service = name.startsWith(`${stack}_`) ? name.slice(stack.length + 1) : name;
    const list = (spec as { Ports?: Array<{ TargetPort?: number; PublishedPort?: number; PublishMode?: string }> } | null)?.Ports ?? [];
    for (const p of list) {
      // Docker's default publish mode is ingress.
      ports.push({ project: stack, service, published: Number(p.PublishedPort ?? 0), target: Number(p.TargetPort ?? 0), mode: p.PublishMode ?? 'ingress' });
    }
  }
  return ports;
}
