import { TenantctlError } from '../common/errors.js';
import type { DockerHost } from '../engine/docker-host.js';

// What changes of a tenant's stack between deploys, kept side by side until the new one is proven:
// its image pins on the node (tenantctl-pin/<project>:<image id>, one per image id the stack has
// run; swarm-stack.ts) and its secrets on the manager (swarm secrets are immutable: a rotated value
// is a new object, <project>_<KEY>_v<N>, beside the one the running tasks still read). Once the new
// state is proven, what the stack's services no longer name is removed: the pins of the images
// before the last good one, the secret versions before the current one.

const namespace = (project: string) => `label=com.docker.stack.namespace=${project}`;

/** The repository of a stack's pin tags on its node: tenantctl-pin/<project>, in Docker's reference alphabet. */
export const pinRepository = (project: string) => `tenantctl-pin/${project.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[._-]+$/g, '')}`;

/** The pin tag of one image id for a stack: what its stack file names instead of the shared tag. */
export const pinOf = (project: string, imageId: string) => `${pinRepository(project)}:${imageId.replace(/^sha256:/, '').slice(0, 16)}`;

/** The stack's service names. */
async function stackServices(manager: DockerHost, project: string, signal?: AbortSignal): Promise<string[]> {
  return (await manager.docker(['service', 'ls', '--filter', namespace(project), '--format', '{{.Name}}'], { signal })).split('\n').filter(Boolean);
}

/**
 * Tags each image id on the node with its pin again (a no-op when it is there): the rollback
 * target's images by id, so a deploy naming the pins finds them. An id the node no longer has is
 * an error before anything changes.
 */
export async function keepPins(node: DockerHost, project: string, imageIds: readonly string[], signal?: AbortSignal): Promise<Record<string, string>> {
  const pins: Record<string, string> = {};
  for (const id of new Set(imageIds)) {
    const pin = pinOf(project, id);
    try {
      await node.docker(['tag', id, pin], { signal });
    } catch (error) {
      throw new TenantctlError('docker', `image ${id.slice(0, 19)} (the last good state of ${project}) is gone from node ${node.id}, so it cannot be pinned for a rollback: ${(error as Error).message}`, { cause: error });
    }
    pins[id] = pin;
  }
  return pins;
}

/** The image each service of the stack names now (its pin), by compose service name. */
export async function namedPins(manager: DockerHost, project: string, signal?: AbortSignal): Promise<Record<string, string>> {
  const services = await stackServices(manager, project, signal);
  if (services.length === 0) return {};
  const out = await manager.docker(['service', 'inspect', '--format', '{{.Spec.Name}} {{.Spec.TaskTemplate.ContainerSpec.Image}}', ...services], { signal });
  return Object.fromEntries(out.split('\n').filter(Boolean).map((line) => line.trim().split(' ')).map(([name, image]) => [name!.slice(project.length + 1), image!.replace(/@sha256:[0-9a-f]+$/, '')]));
}

/** The images the stack's services name now (their pins). */
async function namedImages(manager: DockerHost, project: string, signal?: AbortSignal): Promise<Set<string>> {
  const services = await stackServices(manager, project, signal);
  if (services.length === 0) return new Set();
  const out = await manager.docker(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', ...services], { signal });
  return new Set(out.split('\n').filter(Boolean).map((image) => image.trim().replace(/@sha256:[0-9a-f]+$/, '')));
}

/**
 * Removes the stack's pins on the node that its services no longer name (the state before the
 * last good one). A pin whose image a running container on the node uses is skipped (left for the
 * next prune or the stack's removal): `docker image rm --force` would untag it under that
 * container. The others are removed with --force: only the containers of ended tasks (swarm keeps
 * a task history) hold them, and swarm never starts such a container again (a new task is a new
 * container, made from the pin its service names now). A pin another tag names too only loses the
 * pin. Returns the pins removed.
 */
export async function prunePins(manager: DockerHost, node: DockerHost, project: string, signal?: AbortSignal): Promise<string[]> {
  const named = await namedImages(manager, project, signal);
  if (named.size === 0) return []; // no stack (or no answer): nothing is judged unused
  const pins = (await node.docker(['image', 'ls', '--no-trunc', '--filter', `reference=${pinRepository(project)}`, '--format', '{{.Repository}}:{{.Tag}} {{.ID}}'], { signal }))
    .split('\n').filter(Boolean).map((line) => { const [tag = '', id = ''] = line.split(' '); return { tag, id }; });
  const removed: string[] = [];
  for (const tag of unusedPins(pins, named, await runningImageIds(node, signal))) {
    const result = await node.run(['docker', 'image', 'rm', '--force', tag], { timeoutMs: 30_000, signal });
    if (result.exitCode === 0) removed.push(tag);
    else if (!/being used|conflict/i.test(result.stderrTail)) throw new TenantctlError('docker', `removing the pin ${tag} on ${node.id} failed: ${result.stderrTail.trim().split('\n').pop()}`);
  }
  return removed;
}

/** The pins to remove: those no service names and whose image no running container uses. */
export function unusedPins(pins: ReadonlyArray<{ tag: string; id: string }>, named: ReadonlySet<string>, running: ReadonlySet<string>): string[] {
  return pins.filter((p) => !named.has(p.tag) && !running.has(p.id)).map((p) => p.tag);
}

/** The image ids of the containers running on a node now. */
async function runningImageIds(node: DockerHost, signal?: AbortSignal): Promise<Set<string>> {
  const ids = (await node.docker(['ps', '-q', '--no-trunc'], { signal })).split('\n').filter(Boolean);
  if (ids.length === 0) return new Set();
  // A container may be gone by the time it is inspected: the others still answer.
  const result = await node.run(['docker', 'inspect', '--type', 'container', '--format', '{{.Image}}', ...ids], { timeoutMs: 30_000, signal });
  return new Set(result.stdout.split('\n').map((l) => l.trim()).filter(Boolean));
}

/** The secret objects each service of the stack reads now, by compose key, where a rotation named them (<project>_<KEY>_v<N>). */
export async function liveSecretNames(manager: DockerHost, project: string, keys: readonly string[], signal?: AbortSignal): Promise<Record<string, string>> {
  const services = await stackServices(manager, project, signal);
  if (services.length === 0) return {};
  const out = await manager.docker(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Secrets}}', ...services], { signal });
  const names = new Set(out.split('\n').filter(Boolean).flatMap((line) => ((JSON.parse(line) ?? []) as Array<{ SecretName?: string }>).map((s) => s.SecretName ?? '')));
  const found: Record<string, string> = {};
  for (const key of keys) {
    const versioned = [...names].filter((name) => versionOf(project, key, name) > 1).sort((a, b) => versionOf(project, key, b) - versionOf(project, key, a));
    if (versioned[0]) found[key] = versioned[0];
  }
  return found;
}

/** 1 for <project>_<KEY> (swarm's own name), N for <project>_<KEY>_v<N>, 0 for another secret's name. */
function versionOf(project: string, key: string, name: string): number {
  if (name === `${project}_${key}`) return 1;
  const match = /^_v(\d+)$/.exec(name.startsWith(`${project}_${key}`) ? name.slice(`${project}_${key}`.length) : '');
  return match ? Number(match[1]) : 0;
}

/**
 * The names of the next versions of `keys`: one past the highest any secret object of the stack
 * has (a left-over version of a failed rotation included, so a name is never reused with other data).
 */
export async function nextSecretNames(manager: DockerHost, project: string, keys: readonly string[], signal?: AbortSignal): Promise<Record<string, string>> {
  const existing = (await manager.docker(['secret', 'ls', '--filter', namespace(project), '--format', '{{.Name}}'], { signal })).split('\n').filter(Boolean);
  return Object.fromEntries(keys.map((key) => [key, `${project}_${key}_v${Math.max(1, ...existing.map((name) => versionOf(project, key, name))) + 1}`]));
}

/**
 * Removes the stack's secret objects no service of it reads any more (the versions before a
 * proven rotation, or the new ones of an undone one). Returns the names removed. Swarm refuses to
 * remove one still in use, so a wrong judgement cannot take a secret from a running task.
 */
export async function pruneSecrets(manager: DockerHost, project: string, signal?: AbortSignal): Promise<string[]> {
  const services = await stackServices(manager, project, signal);
  if (services.length === 0) return [];
  const used = new Set((await manager.docker(['service', 'inspect', '--format', '{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}', ...services], { signal })).split(/\s+/).filter(Boolean));
  const existing = (await manager.docker(['secret', 'ls', '--filter', namespace(project), '--format', '{{.Name}}'], { signal })).split('\n').filter(Boolean);
  const unused = existing.filter((name) => !used.has(name));
  if (unused.length > 0) await manager.docker(['secret', 'rm', ...unused], { signal });
  return unused;
}
