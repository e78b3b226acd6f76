import { TenantctlError, messageOf } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { runForeground, type ForegroundResult } from '../common/interactive.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import type { DockerHost } from '../engine/docker-host.js';
import { swarmNodeHost } from '../swarm/swarm-stack.js';
import type { DefinedMounts, RuntimeCallOptions, RuntimeLogsOptions, TenantRuntime } from './tenant-runtime.js';

// A tenant on a Docker Swarm: a stack named after its compose project, every service pinned to one
// node (swarm/swarm-stack.ts). Its services are swarm services <project>_<service>, one replica
// each: stop scales them to 0 (the tasks end; the node keeps the volumes), start scales them back
// to 1 (new tasks on the same node, the same volumes), restart forces a new task. Each is asked of
// the manager detached and then watched: stopped means the node runs no container of the service;
// started means a new task's container is up (Starting or Running: readiness is the caller's), and
// a task that swarm rejected or that failed gives its own error as the cause (a taken port is a
// conflict, exit 5). Logs are `docker service logs` on the manager (every task's, the ended ones'
// too). Containers and volumes are on the node: `containers` is its engine.

export class SwarmRuntime implements TenantRuntime {
  readonly kind = 'swarm' as const;

  private constructor(private readonly manager: DockerHost, private readonly project: string, readonly containers: DockerHost) {}

  static async on(manager: DockerHost, project: string, signal?: AbortSignal): Promise<SwarmRuntime> {
    return new SwarmRuntime(manager, project, await swarmNodeHost(manager, project, signal));
  }

  async stop(services: readonly string[] | undefined, options: RuntimeCallOptions): Promise<void> {
    await this.scale(await this.serviceNames(services, options.signal), 0, options);
  }

  async start(services: readonly string[] | undefined, options: RuntimeCallOptions): Promise<void> {
    await this.scale(await this.serviceNames(services, options.signal), 1, options);
  }

  async restart(services: readonly string[] | undefined, options: RuntimeCallOptions): Promise<void> {
    const names = await this.serviceNames(services, options.signal);
    const before = new Set((await this.tasks(names, options.signal)).map((t) => t.id));
    options.onProgress?.(`restarting ${names.join(', ')} (a new task each, on the same node)`);
    await allSettledOrFirstFailure(names.map((name) => this.manage(['service', 'update', '--force', '--detach', '--quiet', name], `docker service update --force ${name}`, options)));
    await this.untilStarted(names, before, { newTask: true }, options);
  }

  /** A service scaled to 0 has no task, so no container: its spec says its image and volumes (named <project>_<volume> on the node). */
  async definedMounts(service: string, signal?: AbortSignal): Promise<DefinedMounts | undefined> {
    const name = `${this.project}_${service}`;
    let spec: { Image?: string; Mounts?: Array<{ Type?: string; Source?: string; Target?: string }> };
    try {
      spec = JSON.parse(await this.manager.docker(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec}}', name], { signal }));
    } catch (error) {
      if (/no such service/i.test((error as Error).message)) return undefined;
      throw error;
    }
    const volumes: Record<string, string> = {};
    for (const m of spec.Mounts ?? []) if (m.Type === 'volume' && m.Source && m.Target) volumes[m.Target] = m.Source;
    // --resolve-image never: the spec's image is the node's own reference, without a digest.
    return { image: String(spec.Image ?? '').replace(/@sha256:[0-9a-f]+$/, ''), volumes };
  }

  async logs(services: readonly string[], options: RuntimeLogsOptions): Promise<ForegroundResult> {
    const names = await this.serviceNames(services.length > 0 ? services : undefined);
    const flags = [
      ...(options.follow ? ['--follow'] : []), ...(options.timestamps ? ['--timestamps'] : []),
      ...(options.since !== undefined ? ['--since', options.since] : []), ...(options.tail !== undefined ? ['--tail', options.tail] : []),
    ];
    // One stream per service, side by side (each line names its task); the first failure is the answer.
    let runs: ForegroundResult[];
    try {
      runs = await Promise.all(names.map((name) => runForeground(['docker', 'service', 'logs', ...flags, name], { stdin: 'ignore', timeoutMs: options.timeoutMs, env: this.manager.env })));
    } catch (error) {
      throw new TenantctlError('docker', `docker service logs could not be started (is the docker CLI installed?): ${messageOf(error)}`, { cause: error });
    }
    return {
      exitCode: runs.find((r) => r.exitCode !== 0)?.exitCode ?? 0,
      forwarded: [...new Set(runs.flatMap((r) => r.forwarded))],
      timedOut: runs.some((r) => r.timedOut),
      cancelled: runs.some((r) => r.cancelled),
      signal: runs.find((r) => r.signal)?.signal,
    };
  }

  /** The stack's swarm services for compose service names (all of the stack's when none are given). */
  private async serviceNames(services: readonly string[] | undefined, signal?: AbortSignal): Promise<string[]> {
    if (services !== undefined) return services.map((service) => `${this.project}_${service}`);
    const listed = (await this.manager.docker(['service', 'ls', '--filter', `label=com.docker.stack.namespace=${this.project}`, '--format', '{{.Name}}'], { signal }))
      .split('\n').map((line) => line.trim()).filter(Boolean).sort();
    if (listed.length === 0) throw new TenantctlError('conflict', `the stack ${this.project} has no services on the swarm of ${this.manager.id} (tenantctl status)`);
    return listed;
  }

  private async scale(names: string[], replicas: 0 | 1, options: RuntimeCallOptions): Promise<void> {
    if (names.length === 0) return;
    const before = new Set((await this.tasks(names, options.signal)).map((t) => t.id));
    options.onProgress?.(`scaling ${names.join(', ')} to ${replicas}`);
    await this.manage(['service', 'scale', '--detach', ...names.map((name) => `${name}=${replicas}`)], `docker service scale (${replicas})`, options);
    if (replicas === 0) await this.untilStopped(names, options);
    else await this.untilStarted(names, before, { newTask: false }, options);
  }

  /** The services' tasks (the history swarm keeps too), with what swarm wants of each, its state and error. */
  private async tasks(names: string[], signal?: AbortSignal): Promise<Array<{ id: string; service: string; desired: string; state: string; error: string }>> {
    const out = await this.manager.docker(['service', 'ps', '--no-trunc', '--format', '{{.ID}}|{{.Name}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}', ...names], { signal });
    return out.split('\n').filter(Boolean).map((line) => {
      const [id = '', name = '', desired = '', state = '', error = ''] = line.split('|');
      // A history entry's name is prefixed with "\_ " in the CLI's table only; --format gives the task's name.
      return { id, service: name.replace(/^\\_\s*/, '').replace(/\.\d+$/, ''), desired, state, error };
    });
  }

  /** Until the node runs no container of the services (their files may be swapped then). */
  private async untilStopped(names: string[], { timeoutMs, signal }: RuntimeCallOptions): Promise<void> {
    await retryUntilDeadline(async () => {
      const running = (await this.containers.docker(['ps', '--format', '{{.Label "com.docker.swarm.service.name"}}', '--filter', `label=com.docker.stack.namespace=${this.project}`], { signal }))
        .split('\n').filter((name) => names.includes(name));
      return running.length === 0 ? done(undefined) : notYet(`${[...new Set(running)].join(', ')} still running on the node`);
    }, {
      what: `stopping the services of ${this.project}`, deadlineMs: timeoutMs, signal, initialDelayMs: 250,
      onDeadline: (why) => new TenantctlError('docker', `the services of ${this.project} did not stop within ${Math.round(timeoutMs / 1000)} s: ${why}`),
    });
  }

  /**
   * Until each service has a task swarm wants running whose container is up (a new one, for a
   * restart); the errors of the tasks swarm made since `before` are the cause when it does not.
   */
  private async untilStarted(names: string[], before: Set<string>, { newTask }: { newTask: boolean }, { timeoutMs, signal }: RuntimeCallOptions): Promise<void> {
    // A port "in use" can be the old task's for a moment (a restart stops it first, swarm schedules
    // the new one again meanwhile): only a port still taken at the deadline is the cause (exit 5).
    let taken: string | undefined;
    await retryUntilDeadline(async () => {
      const tasks = await this.tasks(names, signal);
      const since = tasks.filter((t) => !before.has(t.id));
      const errors = [...new Set(since.filter((t) => t.error).map((t) => `${t.service}: ${t.error}`))];
      taken = errors.find((e) => /port is already allocated|address already in use|port .*already in use/i.test(e));
      const up = (newTask ? since : tasks).filter((t) => t.desired === 'Running' && /^(Running|Starting)\b/.test(t.state));
      const waiting = names.filter((name) => !up.some((t) => t.service === name));
      return waiting.length === 0 ? done(undefined) : notYet(`${waiting.join(', ')} not started${errors.length ? ` (${errors.join('; ')})` : ''}`);
    }, {
      what: `starting the services of ${this.project}`, deadlineMs: timeoutMs, signal, initialDelayMs: 250,
      onDeadline: (why) => taken
        ? new TenantctlError('conflict', `the services of ${this.project} did not start within ${Math.round(timeoutMs / 1000)} s, a port is taken on its node: ${taken} (free it, or move the tenant)`)
        : new TenantctlError('docker', `the services of ${this.project} did not start within ${Math.round(timeoutMs / 1000)} s: ${why}`),
    });
  }

  private async manage(args: string[], what: string, { timeoutMs, signal }: RuntimeCallOptions): Promise<void> {
    const result = await this.manager.run(['docker', ...args], { timeoutMs, signal });
    if (result.cancelled) throw new TenantctlError('interrupted', `${what} was cancelled`);
    if (result.timedOut) throw new TenantctlError('docker', `${what} on ${this.manager.id} did not converge within ${Math.round(timeoutMs / 1000)} s`);
    if (result.exitCode !== 0) throw new TenantctlError('docker', `${what} on ${this.manager.id} failed (exit ${result.exitCode}): ${lastErrorLine(result.stderrTail)}`);
  }
}

/**
 * Waits for every call (none is left running behind the verb: an undo must not start while a
 * `docker service scale` still changes the stack), then throws the first failure, if any.
 */
async function allSettledOrFirstFailure(calls: Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(calls)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
