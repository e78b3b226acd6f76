import type { DockerHost } from '../engine/docker-host.js';
import { messageOf } from '../common/errors.js';
import type { SwarmPublishedPort } from './findings.js';

// What a swarm's tenant services publish, asked of the manager once for the doctor: the ports each
// service's endpoint names, with their publish mode. A port on the ingress routing mesh is on no
// container (docker ps shows nothing for it), so the containers' Ports column cannot tell it.

const format = '{{json .Spec.Name}}\t{{json (index .Spec.Labels "com.docker.stack.namespace")}}\t{{json .Spec.EndpointSpec}}\t{{json .Endpoint.Ports}}';

/** Every published port of the swarm's tenant services (label tenantctl.managed=true), by stack. */
export async function swarmServicePorts(manager: DockerHost, signal?: AbortSignal): Promise<SwarmPublishedPort[]> {
  const ids = (await manager.docker(['service', 'ls', '-q', '--filter', 'label=tenantctl.managed=true'], { signal })).split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  try {
    return parseServicePorts(await manager.docker(['service', 'inspect', '--format', format, ...ids], { signal }));
  } catch (error) {
    if (!vanished(error)) throw error;
  }
  // A service removed between the listing and the inspect (a stack being deprovisioned) fails the
  // batch: each is asked alone, and one that is gone has nothing published.
  const each = await Promise.all(ids.map((id) => manager.docker(['service', 'inspect', '--format', format, id], { signal }).catch((error: unknown) => {
    if (vanished(error)) return '';
    throw error;
  })));
  return parseServicePorts(each.join('\n'));
}

const vanished = (error: unknown) => /no such service/i.test(messageOf(error));

interface PortJson { TargetPort?: number; PublishedPort?: number; PublishMode?: string }

/**
 * `docker service inspect` lines (name, stack, endpoint spec, endpoint ports: tab-separated JSON) ->
 * published ports: the spec's, a port without a published number (PublishedPort 0) given the one
 * the swarm assigned it, which only the endpoint says. Pure.
 */
export function parseServicePorts(out: string): SwarmPublishedPort[] {
  const ports: SwarmPublishedPort[] = [];
  for (const line of out.split('\n').filter(Boolean)) {
    const [name, stack, spec, live] = line.split('\t').map((part) => JSON.parse(part) as unknown);
    if (typeof name !== 'string' || typeof stack !== 'string' || !stack) continue;
    // A stack's services are named <stack>_<service>.
    const service = name.startsWith(`${stack}_`) ? name.slice(stack.length + 1) : name;
    const specPorts = (spec as { Ports?: PortJson[] } | null)?.Ports ?? [];
    const assigned = Array.isArray(live) ? live as PortJson[] : [];
    for (const p of specPorts) {
      // Docker's default publish mode is ingress. The spec says what is published (the endpoint may
      // lag an update); the endpoint, which number the swarm gave a port published without one.
      const mode = p.PublishMode ?? 'ingress';
      const published = Number(p.PublishedPort ?? 0) || Number(assigned.find((a) => a.TargetPort === p.TargetPort && (a.PublishMode ?? 'ingress') === mode)?.PublishedPort ?? 0);
      ports.push({ project: stack, service, published, target: Number(p.TargetPort ?? 0), mode });
    }
  }
  return ports;
}
