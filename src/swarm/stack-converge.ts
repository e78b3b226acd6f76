import { TenantctlError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import type { DockerHost } from '../engine/docker-host.js';

// A stack deployed again (an upgrade, its rollback, a rotation's new secret versions) has converged
// when every service of it runs a task made from the service's spec as it is now: swarm replaces a
// task whose spec differs from its service's, one service at a time, after `docker stack deploy`
// has returned. So, before tenantctl's readiness probes are trusted, each service's running task
// must carry the service's task template (the task's own copy of it, `.Spec`): until then the
// probes could be answered by the old task. Readiness itself is the caller's (the probes).
// The task's copy leaves out defaults the service's shows (StopGracePeriod, Runtime, an empty
// DNSConfig, the restart delay): a task matches when every value it carries equals the service's,
// and its image and secrets, which every change tenantctl makes shows in, are equal.
// That alone would accept an old task when the new spec only adds keys (a limit, a healthcheck, a
// label): so each service's template is taken before the deploy too (StackSnapshot), and a service
// whose template changed needs a running task that was not there before; and no service may be
// mid-update (UpdateStatus updating, paused, rollback_*).

export interface ServiceSpec {
  name: string;
  /** The service's task template, as JSON (what each of its tasks copies into its own .Spec). */
  template: string;
  /** UpdateStatus.State ('' when swarm has not updated it): updating, paused, completed, rollback_*. */
  updateState: string;
}

/** The stack's services, each with its task template now (none before the first deploy). */
async function serviceSpecs(manager: DockerHost, project: string, signal?: AbortSignal): Promise<ServiceSpec[]> {
  const names = (await manager.docker(['service', 'ls', '--filter', `label=com.docker.stack.namespace=${project}`, '--format', '{{.Name}}'], { signal })).split('\n').filter(Boolean);
  if (names.length === 0) return [];
  const out = await manager.docker(['service', 'inspect', '--format', '{{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}} {{json .Spec.TaskTemplate}}', ...names], { signal });
  return out.split('\n').filter(Boolean).map((line) => {
    const [name = '', updateState = '', ...template] = line.split(' ');
    return { name, updateState, template: template.join(' ') };
  });
}

export interface TaskView {
  id: string;
  service: string;
  desired: string;
  state: string;
  error: string;
  template: string;
}

/** The services' tasks (the history swarm keeps too), with what swarm wants of each, its state, error and own copy of the task template. */
async function serviceTasks(manager: DockerHost, services: string[], signal?: AbortSignal): Promise<TaskView[]> {
  const ids = (await manager.docker(['service', 'ps', '-q', '--no-trunc', ...services], { signal })).split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  // A task may be gone by the time it is inspected (swarm trims its history): those are left out.
  const result = await manager.run(['docker', 'inspect', '--type', 'task', '--format', '{{.ID}}|{{.ServiceID}}|{{.DesiredState}}|{{.Status.State}}|{{.Status.Err}}|{{json .Spec}}', ...ids], { timeoutMs: 30_000, signal });
  const byId = new Map((await manager.docker(['service', 'inspect', '--format', '{{.ID}} {{.Spec.Name}}', ...services], { signal })).split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
  return result.stdout.split('\n').filter(Boolean).map((line) => {
    const [id = '', serviceId = '', desired = '', state = '', error = '', ...template] = line.split('|');
    return { id, service: byId.get(serviceId) ?? serviceId, desired, state, error, template: template.join('|') };
  });
}

/**
 * The stack before a deploy: its tasks' ids (its history too: a task that failed before it, the
 * same spec crashed once long ago, says nothing about the deploy) and each service's task template
 * (a service whose template the deploy changes must get a new task).
 */
export interface StackSnapshot {
  tasks: ReadonlySet<string>;
  templates: ReadonlyMap<string, string>;
}

export const emptySnapshot: StackSnapshot = { tasks: new Set(), templates: new Map() };

export async function stackSnapshot(manager: DockerHost, project: string, signal?: AbortSignal): Promise<StackSnapshot> {
  const specs = await serviceSpecs(manager, project, signal);
  if (specs.length === 0) return emptySnapshot;
  const tasks = new Set((await manager.docker(['service', 'ps', '-q', '--no-trunc', ...specs.map((s) => s.name)], { signal })).split('\n').filter(Boolean));
  return { tasks, templates: new Map(specs.map((s) => [s.name, s.template])) };
}

/** Tasks of a service's current spec that failed (or were rejected) before one ran: a broken image, not a slow one. */
const failuresBeforeGivingUp = 2;

/**
 * Until every service of the stack runs a task (its container started or running) made from its
 * current spec; at the deadline, the services still waiting and the errors of their tasks. A
 * service whose current spec has had failuresBeforeGivingUp tasks fail and none running is not
 * waited for: its tasks' own errors are the cause at once (exit 7, notReady, either way).
 */
export async function waitForStackConverged(manager: DockerHost, project: string, { clock, deadlineMs, signal, before = emptySnapshot }: { clock: Clock; deadlineMs: number; signal?: AbortSignal; before?: StackSnapshot }): Promise<void> {
  await retryUntilDeadline(async () => {
    const specs = await serviceSpecs(manager, project, signal);
    if (specs.length === 0) return notYet(`the stack ${project} has no services`);
    const tasks = await serviceTasks(manager, specs.map((s) => s.name), signal);
    const { waiting, errors, broken } = convergence(specs, tasks, before);
    if (broken.length > 0) {
      throw new TenantctlError('notReady', `the stack ${project} did not converge: the tasks of ${broken.join(', ')} of the new spec keep failing (${errors.join('; ')})`);
    }
    return waiting.length === 0 ? done(undefined) : notYet(`${waiting.join(', ')} not yet on a task of the new spec${errors.length ? ` (${errors.join('; ')})` : ''}`);
  }, {
    what: `waiting for the stack ${project} to converge`, clock, deadlineMs, signal, initialDelayMs: 250, maxDelayMs: 2_000,
    onDeadline: (why) => new TenantctlError('notReady', `the stack ${project} did not converge within ${Math.round(deadlineMs / 1000)} s: ${why}`),
  });
}

/** An update swarm has not finished (or has given up on and is rolling back or paused). */
const unsettled = /^(updating|paused|rollback_.*)$/;

/**
 * Where the stack is, from its services and tasks now and the snapshot before the deploy: the
 * services still waiting (each with why), the errors of their new tasks, and the services whose
 * new spec's tasks keep failing (broken: not waited for).
 */
export function convergence(specs: readonly ServiceSpec[], tasks: readonly TaskView[], before: StackSnapshot): { waiting: string[]; errors: string[]; broken: string[] } {
  const waiting: string[] = [];
  const errors: string[] = [];
  const broken: string[] = [];
  for (const spec of specs) {
    const changed = before.templates.get(spec.name) !== spec.template;
    const current = tasks.filter((t) => t.service === spec.name && matches(t.template, spec.template) && !(changed && before.tasks.has(t.id)));
    const runs = current.some((t) => t.desired === 'running' && (t.state === 'running' || t.state === 'starting'));
    if (runs && !unsettled.test(spec.updateState)) continue;
    waiting.push(runs ? `${spec.name} (update ${spec.updateState})` : spec.name);
    const failed = current.filter((t) => !before.tasks.has(t.id) && (t.state === 'failed' || t.state === 'rejected'));
    for (const t of failed) if (t.error) errors.push(`${spec.name}: ${t.error}`);
    if (!runs && failed.length >= failuresBeforeGivingUp) broken.push(spec.name);
  }
  return { waiting, errors: [...new Set(errors)], broken };
}

/** A task's spec (JSON) is of the service's task template (JSON): every value it carries equal, the image and secrets too. */
export function matches(taskJson: string, templateJson: string): boolean {
  let task: Record<string, any>;
  let template: Record<string, any>;
  try {
    task = JSON.parse(taskJson);
    template = JSON.parse(templateJson);
  } catch {
    return false;
  }
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (!same(task.ContainerSpec?.Image, template.ContainerSpec?.Image)) return false;
  if (!same(task.ContainerSpec?.Secrets, template.ContainerSpec?.Secrets)) return false;
  return within(task, template);
}

/** Every value of `part` is in `whole` (objects key by key; arrays and scalars whole). */
function within(part: unknown, whole: unknown): boolean {
  if (part !== null && typeof part === 'object' && !Array.isArray(part)) {
    if (whole === null || typeof whole !== 'object' || Array.isArray(whole)) return false;
    return Object.entries(part).every(([key, value]) => within(value, (whole as Record<string, unknown>)[key]));
  }
  return JSON.stringify(part) === JSON.stringify(whole);
}
