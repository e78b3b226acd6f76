import { TenantctlError, messageOf } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { runForeground, type ForegroundResult } from '../common/interactive.js';
import type { DockerHost } from '../engine/docker-host.js';
import { swarmNodeHost } from '../swarm/swarm-stack.js';
import type { DefinedMounts, RuntimeCallOptions, RuntimeLogsOptions, TenantRuntime } from './tenant-runtime.js';

// A tenant on a Docker Swarm: a stack named after its compose project, every service pinned to one
// node (swarm/swarm-stack.ts). Its services are swarm services <project>_<service>, one replica
// each: stop scales them to 0 (the tasks end; the node keeps the volumes), start scales them back
// to 1 (new tasks on the same node, the same volumes), restart forces a new task. Each waits until
// swarm says the service converged. Logs are `docker service logs` on the manager (every task's,
// the ended ones' too). Containers and volumes are on the node: `containers` is its engine.

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
    // Side by side: each waits for its own convergence (a task running and stable for swarm's monitor period).
    await allSettledOrFirstFailure((await this.serviceNames(services, options.signal)).map(async (name) => {
      options.onProgress?.(`restarting ${name} (a new task on the same node)`);
      await this.manage(['service', 'update', '--force', '--detach=false', '--quiet', name], `docker service update --force ${name}`, options);
    }));
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

  private async scale(names: string[], replicas: number, options: RuntimeCallOptions): Promise<void> {
    if (names.length === 0) return;
    options.onProgress?.(`scaling ${names.join(', ')} to ${replicas}`);
    // One call per service, side by side: `docker service scale a=1 b=1` waits for each in turn.
    await allSettledOrFirstFailure(names.map((name) => this.manage(['service', 'scale', '--detach=false', `${name}=${replicas}`], `docker service scale ${name}=${replicas}`, options)));
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
