import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { TenantctlError, messageOf } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { stackDeployTimeoutMs } from '../common/timeouts.js';
import type { DockerHost } from '../engine/docker-host.js';
import { imageExists } from '../engine/docker.js';
import { relativeBindsOf } from '../templates/compose-tree.js';
import { isRecord } from '../templates/render-compose.js';
import { foldSecretCopies } from '../templates/secret-copies.js';
import { swarmRender, SwarmRenderError } from './swarm-render.js';
import { liveSecretNames, pinOf, pinRepository } from './stack-versions.js';
import { reapOrphans } from '../stack/orphans.js';

// A tenant on a Docker Swarm: the host is a manager; the tenant is a stack named after its compose
// project, all its services pinned to one node (swarm-render.ts says why). Swarm keeps the stack's
// networks, secrets and configs; each node keeps its own containers and volumes, so removal asks
// every node. Every node's engine is reached like the manager's (same scheme, port, user, TLS):
// DockerHost.sibling.

/** Beside the tenant's compose file: the stack file deployed (no secret values: swarm reads the secret files). */
export const stackFileName = 'docker-stack.yml';
const namespaceLabel = (project: string) => `com.docker.stack.namespace=${project}`;

export interface SwarmNode {
  id: string;
  hostname: string;
  address: string;
}

/** Commands not built for stacks yet refuse a tenant on a swarm (exit 2) before they change anything, saying why. */
export function refuseOnSwarm(host: DockerHost, what: string, why: string): void {
  if (host.kind === 'swarm') throw new TenantctlError('usage', `${what} is not available for a tenant on a swarm (${host.id}) yet: ${why}`);
}

/** Ready, active nodes of the swarm, from the manager. */
export async function swarmNodes(manager: DockerHost, signal?: AbortSignal): Promise<SwarmNode[]> {
  const ids = (await manager.docker(['node', 'ls', '--format', '{{.ID}}'], { signal })).split('\n').filter(Boolean);
  if (ids.length === 0) throw new TenantctlError('docker', `${manager.id} is not a swarm manager (docker node ls lists no node)`);
  const out = await manager.docker(['node', 'inspect', '--format', '{{.ID}} {{.Description.Hostname}} {{.Status.Addr}} {{.Status.State}} {{.Spec.Availability}}', ...ids], { signal });
  return out
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((f) => f[3] === 'ready' && f[4] === 'active')
    .map(([id, hostname, address]) => ({ id: id!, hostname: hostname!, address: address! }));
}

/** The node for a new tenant: the one running the fewest of tenantctl's tasks (ties: by hostname). */
export async function chooseNode(manager: DockerHost, signal?: AbortSignal): Promise<SwarmNode> {
  const nodes = await swarmNodes(manager, signal);
  if (nodes.length === 0) throw new TenantctlError('docker', `the swarm of ${manager.id} has no ready, active node`);
  const services = (await manager.docker(['service', 'ls', '-q', '--filter', 'label=tenantctl.managed=true'], { signal })).split('\n').filter(Boolean);
  const load = new Map(nodes.map((n) => [n.id, 0]));
  if (services.length > 0) {
    const tasks = await manager.docker(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}}', ...services], { signal });
    for (const hostname of tasks.split('\n').filter(Boolean)) {
      const node = nodes.find((n) => n.hostname === hostname);
      if (node) load.set(node.id, load.get(node.id)! + 1);
    }
  }
  return [...nodes].sort((a, b) => load.get(a.id)! - load.get(b.id)! || a.hostname.localeCompare(b.hostname))[0]!;
}

export interface SwarmDeployment {
  node: SwarmNode;
  stackFile: string;
  notes: string[];
  /** Images copied to the node (it lacked them). */
  shipped: string[];
}

/**
 * Deploys the tenant's rendered compose file as a stack: translated (or refused, exit 2, with
 * every reason) into docker-stack.yml beside it, the images copied to the chosen node when it
 * lacks them (there is no registry: tasks use the node's local images), then `docker stack
 * deploy`. Readiness is the caller's: waitForSwarmTasks, then tenantctl's probes at node.address.
 */
export async function deploySwarmTenant(
  manager: DockerHost,
  { project, composeFile, images, node: chosen, signal, pinned = {}, secretNames }: {
    project: string; composeFile: string; images: string[]; node?: SwarmNode; signal?: AbortSignal;
    /**
     * Images already pinned on the node (reference -> its pin): a rollback's, the image ids its last
     * good state ran; not shipped (this machine's tag may name another image by now), not pinned again.
     */
    pinned?: Record<string, string>;
    /** Secret key -> the swarm secret's name (a rotation's new versions); default: the ones the stack's services read now. */
    secretNames?: Record<string, string>;
  },
): Promise<SwarmDeployment> {
  const baseDir = path.dirname(composeFile);
  // A `docker stack deploy` of a killed tenantctl still running would land after this one (an
  // upgrade's new spec over its rollback): it ends first (one readdir when there is none).
  await reapOrphans(manager, project);
  const rendered = await readFile(composeFile, 'utf8');
  // A stack deployed again (an upgrade) stays on its node: its volumes are there; so does one
  // deployed again over its kept data (deprovision --keep-data, then provision).
  const node = chosen ?? (await pinnedNode(manager, project, signal)) ?? (await nodeWithVolumes(manager, project, signal)) ?? (await chooseNode(manager, signal));
  const directories = await boundDirectories(rendered, baseDir);
  // Secrets are immutable on a swarm: a redeploy names the versions the services read now (a
  // rotation's), or swarm would be asked to change the first version's data, which it refuses.
  const secrets = secretNames ?? (await liveSecretNames(manager, project, secretKeysOf(rendered), signal));
  const render = (pins?: Record<string, string>) => {
    try {
      return swarmRender({ rendered, directories, node: node.hostname, project, images: pins, secretNames: secrets });
    } catch (error) {
      if (error instanceof SwarmRenderError) throw new TenantctlError('usage', `${composeFile} ${error.message}`);
      throw error;
    }
  };
  render(); // refused before anything is shipped

  // The node's engine (its ssh connection, if any, is kept by the manager's DockerHost until the command ends).
  const onNode = await nodeHost(manager, node, signal);
  const own = images.filter((image) => !(image in pinned));
  const { shipped } = await onNode.ensureImages(own, { signal });
  for (const pin of new Set(Object.values(pinned))) {
    if (!(await imageExists(onNode, pin, signal))) throw new TenantctlError('docker', `the pin ${pin} is not on node ${node.hostname}: the image it kept is gone; nothing was deployed`);
  }
  const stack = render({ ...(await pinImages(onNode, project, own, signal)), ...pinned });
  const stackFile = path.join(baseDir, stackFileName);
  await writeFile(stackFile, stack.text, { mode: 0o644 });
  // --resolve-image never: the images are the node's own, not a registry's.
  // In its own process group, recorded while it runs (DockerHost.run): the next deploy or removal
  // of the stack ends it if this tenantctl is killed meanwhile (reapOrphans).
  const result = await manager.run(['docker', 'stack', 'deploy', '--resolve-image', 'never', '--prune', '-c', stackFile, project], { timeoutMs: stackDeployTimeoutMs, signal, cwd: baseDir, project });
  if (result.cancelled) throw new TenantctlError('interrupted', `docker stack deploy of ${project} was cancelled`);
  if (result.exitCode !== 0 || result.timedOut) {
    throw new TenantctlError('docker', `docker stack deploy of ${project} on ${manager.id} failed: ${result.timedOut ? 'timed out' : result.stderrTail.trim().split('\n').pop()}`);
  }
  return { node, stackFile, notes: stack.notes, shipped };
}


/**
 * Pins each image the stack uses to the id the node has now: a tag of the tenant's own
 * (tenantctl-pin/<project>:<image id, short>) that the stack file names instead of the shared tag.
 * With --resolve-image never, every task swarm creates later (a restart, a stop and start, a
 * restore, a crashed task replaced) is created from the named reference on the node: pinned, it
 * is the image this deploy shipped and proved, not whatever the shared tag was moved to since. The
 * pins go with the stack (removeSwarmTenant).
 */
async function pinImages(node: DockerHost, project: string, images: string[], signal?: AbortSignal): Promise<Record<string, string>> {
  const pins: Record<string, string> = {};
  for (const image of [...new Set(images)]) {
    const id = (await node.docker(['image', 'inspect', '--format', '{{.Id}}', image], { signal })).trim();
    const pin = pinOf(project, id);
    await node.docker(['tag', image, pin], { signal });
    pins[image] = pin;
  }
  return pins;
}

/**
 * Every service of the stack has a task whose container has started (Starting: up, its health
 * check not yet passed; Running). That is swarm's part; whether the tenant is ready is for
 * tenantctl's probes. Note: swarm's DNS names a task only once its health check has passed, so a
 * service reaches another by name after one health interval (healthIntervalSeconds).
 */
export async function waitForSwarmTasks(manager: DockerHost, project: string, { clock, deadlineMs, signal }: { clock: Clock; deadlineMs: number; signal?: AbortSignal }): Promise<void> {
  await retryUntilDeadline(
    async () => {
      const services = (await manager.docker(['service', 'ls', '--filter', `label=${namespaceLabel(project)}`, '--format', '{{.Name}}'], { signal })).split('\n').filter(Boolean);
      if (services.length === 0) return notYet('no service of the stack yet');
      const tasks = (await manager.docker(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Name}}|{{.CurrentState}}|{{.Error}}', ...services], { signal }))
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('|'));
      const started = (service: string) => tasks.some(([name, state]) => name!.startsWith(`${service}.`) && /^(Running|Starting)\b/.test(state ?? ''));
      const waiting = services.filter((service) => !started(service));
      if (waiting.length === 0) return done(undefined);
      const errors = tasks.filter(([, , error]) => error).map(([name, , error]) => `${name}: ${error}`);
      return notYet(`${waiting.join(', ')} not started${errors.length ? ` (${errors.join('; ')})` : ''}`);
    },
    {
      clock, deadlineMs, signal, what: `waiting for the tasks of ${project}`,
      onDeadline: (why) => new TenantctlError('notReady', `the tasks of ${project} did not all start within ${Math.round(deadlineMs / 1000)} s: ${why}`),
    },
  );
}

export interface SwarmRemoval {
  services: number;
  /** Per node: volumes removed. */
  volumes: Record<string, number>;
  /** keepVolumes: the volumes kept, as <node>/<volume>. */
  kept: string[];
  /** keepVolumes: the volumes kept, per node (recorded with the tenant: provision requires them there). */
  keptOn: KeptVolumes[];
}

/** A stack's volumes kept on one node (deprovision --keep-data). */
export interface KeptVolumes {
  nodeId: string;
  node: string;
  volumes: string[];
}

/**
 * Removes the stack and proves nothing of it is left anywhere: `docker stack rm` (services,
 * networks, secrets, configs), then every node is asked until its containers of the stack are gone
 * and its volumes of the stack are removed, then the manager and every node are asked again.
 * `keepVolumes` (deprovision --keep-data): the volumes stay on their node, and the stack deployed
 * again later goes to that node (deploySwarmTenant); everything else goes.
 */
export async function removeSwarmTenant(manager: DockerHost, project: string, { clock, deadlineMs, signal, keepVolumes = false }: { clock: Clock; deadlineMs: number; signal?: AbortSignal; keepVolumes?: boolean }): Promise<SwarmRemoval> {
  const label = `label=${namespaceLabel(project)}`;
  const services = (await manager.docker(['service', 'ls', '-q', '--filter', label], { signal })).split('\n').filter(Boolean).length;
  const result = await manager.run(['docker', 'stack', 'rm', project], { timeoutMs: stackDeployTimeoutMs, signal });
  if (result.exitCode !== 0 && !/Nothing found in stack/i.test(result.stderrTail)) {
    throw new TenantctlError('docker', `docker stack rm ${project} on ${manager.id} failed: ${result.stderrTail.trim().split('\n').pop()}`);
  }
  const nodes = await swarmNodesAll(manager, signal);
  const volumes: Record<string, number> = {};
  const kept: string[] = [];
  const keptOn: KeptVolumes[] = [];
  await Promise.all(
    nodes.map(async (node) => {
      const host = await nodeHost(manager, node, signal);
      // The tasks' containers go first (asynchronously after stack rm); their volumes are in use until then.
      await retryUntilDeadline(
        async () => {
          const left = (await host.docker(['ps', '-aq', '--filter', label], { signal })).split('\n').filter(Boolean);
          return left.length === 0 ? done(undefined) : notYet(`${left.length} container(s) of ${project} still on ${node.hostname}`);
        },
        {
          clock, deadlineMs, signal, what: `waiting for the containers of ${project} on ${node.hostname} to go`,
          onDeadline: (why) => new TenantctlError('docker', `could not remove everything of ${project}: ${why}`),
        },
      );
      const listed = (await host.docker(['volume', 'ls', '-q', '--filter', label], { signal })).split('\n').filter(Boolean);
      const names = keepVolumes ? [] : listed;
      if (keepVolumes && listed.length) {
        kept.push(...listed.map((volume) => `${node.hostname}/${volume}`));
        keptOn.push({ nodeId: node.id, node: node.hostname, volumes: listed.sort() });
      }
      if (names.length) await host.docker(['volume', 'rm', ...names], { signal });
      volumes[node.hostname] = names.length;
      // The stack's image pins (tags only: the images stay while other tags name them).
      const pins = await pinTags(host, project, signal);
      if (pins.length) await host.docker(['image', 'rm', ...pins], { signal });
    }),
  );
  const left = (await swarmLeftovers(manager, project, signal)).filter((what) => !(keepVolumes && what.startsWith('volumes on ')));
  if (left.length) throw new TenantctlError('docker', `could not remove everything of ${project}: ${left.join(', ')} still present`);
  return { services, volumes, kept: kept.sort(), keptOn };
}

/** What of the stack is still anywhere: on the manager (services, networks, secrets, configs) and on each node (containers, volumes, networks). */
export async function swarmLeftovers(manager: DockerHost, project: string, signal?: AbortSignal): Promise<string[]> {
  const label = `label=${namespaceLabel(project)}`;
  const left: string[] = [];
  for (const kind of ['service', 'secret', 'config', 'network'] as const) {
    const names = (await manager.docker([kind, 'ls', '--filter', label, '--format', '{{.Name}}'], { signal })).split('\n').filter(Boolean);
    if (names.length) left.push(`${kind}s ${names.join(' ')}`);
  }
  for (const node of await swarmNodesAll(manager, signal)) {
    const host = await nodeHost(manager, node, signal);
    for (const [kind, args] of [['containers', ['ps', '-aq']], ['volumes', ['volume', 'ls', '-q']], ['networks', ['network', 'ls', '-q']]] as const) {
      const ids = (await host.docker([...args, '--filter', label], { signal })).split('\n').filter(Boolean);
      if (ids.length) left.push(`${kind} on ${node.hostname}: ${ids.join(' ')}`);
    }
    const pins = await pinTags(host, project, signal);
    if (pins.length) left.push(`image pins on ${node.hostname}: ${pins.join(' ')}`);
  }
  return left;
}

/**
 * The engine of the node a tenant's stack is pinned to (its services' placement constraint), as a
 * DockerHost: where its containers are, and the address its ports are published on.
 */
export async function swarmNodeHost(manager: DockerHost, project: string, signal?: AbortSignal): Promise<DockerHost> {
  const node = await pinnedNode(manager, project, signal);
  if (!node) throw new TenantctlError('docker', `${project} has no service pinned to a node of the swarm of ${manager.id}`);
  return nodeHost(manager, node, signal);
}

/** Every node's engine (doctor asks each: the manager's engine holds its own node's containers only). */
export async function swarmNodeEngines(manager: DockerHost, signal?: AbortSignal): Promise<DockerHost[]> {
  return Promise.all((await swarmNodesAll(manager, signal)).map((node) => nodeHost(manager, node, signal)));
}

/**
 * Each node's engine, or why it is not asked: a node that is down or drained is left out (no task
 * runs there), and one whose engine cannot be reached is said, not fatal (stats reports the others).
 */
export async function reachableNodeEngines(manager: DockerHost, signal?: AbortSignal): Promise<{ engines: Array<{ node: string; host: DockerHost }>; unreachable: string[] }> {
  const ready = await swarmNodes(manager, signal);
  const readyIds = new Set(ready.map((n) => n.id));
  const unreachable = (await swarmNodesAll(manager, signal)).filter((n) => !readyIds.has(n.id)).map((n) => `${n.hostname}: not ready or not active (down or drained)`);
  const engines: Array<{ node: string; host: DockerHost }> = [];
  const settled = await Promise.allSettled(ready.map((node) => nodeHost(manager, node, signal)));
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') engines.push({ node: ready[i]!.hostname, host: r.value });
    else unreachable.push(`${ready[i]!.hostname}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
  });
  return { engines, unreachable };
}

/**
 * A node's engine, reached like the manager's (DockerHost.sibling). A manager on a local socket
 * reaches its own node's engine only: another machine's node cannot be reached "the same way", and
 * taking the local engine for it would put volumes, images and helper containers on the wrong
 * machine, so that is an error naming what to do.
 */
async function nodeHost(manager: DockerHost, node: SwarmNode, signal?: AbortSignal): Promise<DockerHost> {
  if (manager.isLocal) {
    const own = (await manager.docker(['info', '--format', '{{.Swarm.NodeID}}'], { signal })).trim();
    if (own !== node.id) {
      throw new TenantctlError('docker', `node ${node.hostname} (${node.address}) of the swarm of ${manager.id} is another machine, and ${manager.id} is reached through a local socket, so that node's engine cannot be reached the same way: register the swarm by its manager's tcp:// or ssh:// address (tenantctl hosts add --swarm)`);
    }
  }
  return manager.sibling(node.hostname, node.address);
}

/** The node a deployed stack's services are pinned to (their placement constraint); undefined before the first deploy. */
async function pinnedNode(manager: DockerHost, project: string, signal?: AbortSignal): Promise<SwarmNode | undefined> {
  const services = (await manager.docker(['service', 'ls', '-q', '--filter', `label=${namespaceLabel(project)}`], { signal })).split('\n').filter(Boolean);
  if (services.length === 0) return undefined;
  const constraints = (await manager.docker(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.Placement.Constraints}}', services[0]!], { signal })).trim();
  const hostname = pinnedHostname(constraints);
  return hostname ? (await swarmNodesAll(manager, signal)).find((n) => n.hostname === hostname) : undefined;
}

/**
 * A stack's volumes on every ready, active node, as <node>/<volume> (what a stack left behind, or
 * kept data): a node that is down or drained is not asked (one unreachable node must not block
 * every provision); kept data is looked for on its recorded node only (keptVolumesOn).
 */
export async function stackVolumes(manager: DockerHost, project: string, signal?: AbortSignal): Promise<Array<{ node: SwarmNode; volume: string }>> {
  const found: Array<{ node: SwarmNode; volume: string }> = [];
  for (const node of await swarmNodes(manager, signal)) {
    const host = await nodeHost(manager, node, signal);
    for (const volume of (await host.docker(['volume', 'ls', '-q', '--filter', `label=${namespaceLabel(project)}`], { signal })).split('\n').filter(Boolean)) found.push({ node, volume });
  }
  return found;
}

/**
 * A removed stack's kept volumes on the node recorded at deprovision --keep-data: the node as the
 * swarm knows it now, and which of `volumes` are there. Refused (exit 5) when the node has left
 * the swarm or is not ready and active: its data cannot be reached, and deploying elsewhere would
 * start the tenant on empty volumes.
 */
export async function keptVolumesOn(manager: DockerHost, project: string, kept: { nodeId: string; node: string; volumes: readonly string[] }, signal?: AbortSignal): Promise<{ node: SwarmNode; missing: string[] }> {
  const result = await manager.run(['docker', 'node', 'inspect', '--format', '{{.ID}} {{.Description.Hostname}} {{.Status.Addr}} {{.Status.State}} {{.Spec.Availability}}', kept.nodeId], { timeoutMs: 30_000, signal });
  if (result.exitCode !== 0 && !/no such node|node \S+ not found/i.test(result.stderrTail)) throw new TenantctlError('docker', `asking ${manager.id} for node ${kept.node} failed: ${result.timedOut ? 'timed out' : result.stderrTail.trim().split('\n').pop()}`);
  if (result.exitCode !== 0) throw new TenantctlError('conflict', `the kept data of ${project} is on node ${kept.node}, which is no longer in the swarm of ${manager.id}: its volumes (${kept.volumes.join(', ')}) cannot be reached; bring the node back, or provision with --fresh-data to start on empty volumes`);
  const [id = '', hostname = '', address = '', state = '', availability = ''] = result.stdout.trim().split(' ');
  if (state !== 'ready' || availability !== 'active') throw new TenantctlError('conflict', `the kept data of ${project} is on node ${hostname || kept.node}, which is ${state !== 'ready' ? state || 'not ready' : availability}: bring it back (ready, active) and try again, or provision with --fresh-data to start on empty volumes`);
  const node = { id, hostname, address };
  const host = await nodeHost(manager, node, signal);
  const there = new Set((await host.docker(['volume', 'ls', '-q', '--filter', `label=${namespaceLabel(project)}`], { signal })).split('\n').filter(Boolean));
  return { node, missing: kept.volumes.filter((v) => !there.has(v)) };
}

/**
 * The node holding a removed stack's kept volumes (deprovision --keep-data; provision refuses
 * volumes no row accounts for before it deploys); undefined when none does. Volumes on two nodes
 * cannot be one tenant's data: refused rather than guessed.
 */
async function nodeWithVolumes(manager: DockerHost, project: string, signal?: AbortSignal): Promise<SwarmNode | undefined> {
  const holding = [...new Map((await stackVolumes(manager, project, signal)).map(({ node }) => [node.id, node])).values()];
  if (holding.length > 1) throw new TenantctlError('conflict', `volumes of ${project} are on several nodes (${holding.map((n) => n.hostname).join(', ')}): its kept data cannot be placed; remove the ones that are not its data`);
  return holding[0];
}

/**
 * The node each tenant of the swarm is pinned to, by tenant id (its services' tenantctl.tenant
 * label), in three calls for the whole swarm: the front door dials a tenant's app where it is
 * published, on that node, not on the manager. `timeoutMs`: the caller's bound for a manager that
 * does not answer.
 */
export async function tenantNodes(manager: DockerHost, { signal, timeoutMs }: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Map<string, SwarmNode>> {
  const pinned = new Map<string, SwarmNode>();
  const services = (await manager.docker(['service', 'ls', '-q', '--filter', 'label=tenantctl.managed=true'], { signal, timeoutMs })).split('\n').filter(Boolean);
  if (services.length === 0) return pinned;
  const out = await manager.docker(['service', 'inspect', '--format', '{{index .Spec.Labels "tenantctl.tenant"}} {{json .Spec.TaskTemplate.Placement.Constraints}}', ...services], { signal, timeoutMs });
  const nodes = await swarmNodesAll(manager, signal, timeoutMs);
  for (const line of out.split('\n')) {
    // A service without the label prints an empty first field: no trimming of the start.
    const [tenant, constraints = ''] = line.trimEnd().split(/ (.*)/);
    const node = nodes.find((n) => n.hostname === pinnedHostname(constraints));
    if (tenant && node) pinned.set(tenant, node);
  }
  return pinned;
}

/** The hostname in a service's placement constraints (["node.hostname == n1"], as JSON), as swarm-render.ts writes it. */
const pinnedHostname = (constraints: string) => /node\.hostname\s*==\s*([^"\s]+)/.exec(constraints)?.[1];

/**
 * The live state of every tenant stack on the swarm, from the manager (one call): running when
 * each of its services runs all its tasks, stopped otherwise (a task history of exited
 * containers on the nodes says nothing about now).
 */
export async function stackStates(manager: DockerHost, signal?: AbortSignal): Promise<Map<string, 'running' | 'stopped'>> {
  const out = await manager.docker(['service', 'ls', '--filter', 'label=tenantctl.managed=true', '--format', '{{.Name}}\t{{.Replicas}}'], { signal });
  const states = new Map<string, 'running' | 'stopped'>();
  for (const [name, replicas] of out.split('\n').filter(Boolean).map((line) => line.split('\t'))) {
    // A stack's services are named <stack>_<service>; the stack is the tenant's compose project.
    const project = name!.slice(0, Math.max(0, name!.lastIndexOf('_')));
    if (!project) continue;
    const running = /^([1-9]\d*)\/\1$/.test(replicas ?? '');
    states.set(project, states.get(project) === 'stopped' || !running ? 'stopped' : 'running');
  }
  return states;
}

/** Each service's image reference in a compose file. */
export function serviceImagesOf(rendered: string): Record<string, string> {
  const tree = parse(rendered, { merge: true, maxAliasCount: -1 }) as unknown;
  if (!isRecord(tree) || !isRecord(tree.services)) return {};
  return Object.fromEntries(Object.entries(tree.services).flatMap(([service, d]) => (isRecord(d) && typeof d.image === 'string' ? [[service, d.image]] : [])));
}

/** The keys of a compose file's top-level secrets. */
export function secretKeysOf(rendered: string): string[] {
  const tree = parse(rendered, { merge: true, maxAliasCount: -1 }) as unknown;
  if (isRecord(tree)) foldSecretCopies(tree); // the declared secrets, not a compose render's per-user copies
  return isRecord(tree) && isRecord(tree.secrets) ? Object.keys(tree.secrets) : [];
}

/** The images a compose file's services run. */
export function imagesOf(rendered: string): string[] {
  const tree = parse(rendered, { merge: true, maxAliasCount: -1 }) as unknown;
  if (!isRecord(tree) || !isRecord(tree.services)) return [];
  return [...new Set(Object.values(tree.services).flatMap((service) => (isRecord(service) && typeof service.image === 'string' ? [service.image] : [])))];
}

/** Every node, whatever its state: removal must look at nodes that are drained or paused too. */
async function swarmNodesAll(manager: DockerHost, signal?: AbortSignal, timeoutMs?: number): Promise<SwarmNode[]> {
  const ids = (await manager.docker(['node', 'ls', '--format', '{{.ID}}'], { signal, timeoutMs })).split('\n').filter(Boolean);
  const out = await manager.docker(['node', 'inspect', '--format', '{{.ID}} {{.Description.Hostname}} {{.Status.Addr}}', ...ids], { signal, timeoutMs });
  return out.split('\n').filter(Boolean).map((line) => {
    const [id, hostname, address] = line.trim().split(' ');
    return { id: id!, hostname: hostname!, address: address! };
  });
}

/** Relative directories the compose file bind-mounts (./initdb), keyed as written -> their files, for swarm configs. */
export async function boundDirectories(rendered: string, baseDir: string): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const { source } of relativeBindsOf(parse(rendered, { merge: true, maxAliasCount: -1 }))) {
    if (found[source]) continue;
    const dir = path.resolve(baseDir, source);
    try {
      if ((await stat(dir)).isDirectory()) found[source] = (await readdir(dir)).sort();
    } catch (error) {
      throw new TenantctlError('usage', `${dir} is bind-mounted by ${path.join(baseDir, 'docker-compose.yml')} but cannot be read: ${messageOf(error)}`, { cause: error });
    }
  }
  return found;
}

/** The stack's pin tags on a node (repository:tag). */
async function pinTags(node: DockerHost, project: string, signal?: AbortSignal): Promise<string[]> {
  return (await node.docker(['image', 'ls', '--filter', `reference=${pinRepository(project)}`, '--format', '{{.Repository}}:{{.Tag}}'], { signal })).split('\n').filter(Boolean);
}
