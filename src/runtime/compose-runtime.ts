import type { DockerHost } from '../engine/docker-host.js';
import type { ForegroundResult } from '../common/interactive.js';
import type { ComposeTarget } from '../stack/compose-argv.js';
import { composeForeground, composeVerb } from '../stack/day2.js';
import type { DefinedMounts, RuntimeCallOptions, RuntimeLogsOptions, TenantRuntime } from './tenant-runtime.js';

// A compose project on an engine (local, tcp or ssh): compose stop / start / restart / logs on the
// tenant's own compose file; its containers are on that engine.

/** Seconds compose gives each container to stop (SIGTERM) before it kills it. */
export const stopGraceSeconds = '10';

export class ComposeRuntime implements TenantRuntime {
  readonly kind = 'compose' as const;

  constructor(readonly containers: DockerHost, private readonly target: ComposeTarget) {}

  async stop(services: readonly string[] | undefined, options: RuntimeCallOptions): Promise<void> {
    await composeVerb(this.containers, this.target, ['stop', '--timeout', stopGraceSeconds, ...(services ?? [])], options);
  }

  async start(services: readonly string[] | undefined, options: RuntimeCallOptions): Promise<void> {
    await composeVerb(this.containers, this.target, ['start', ...(services ?? [])], options);
  }

  async restart(services: readonly string[] | undefined, options: RuntimeCallOptions): Promise<void> {
    await composeVerb(this.containers, this.target, ['restart', '--timeout', stopGraceSeconds, ...(services ?? [])], options);
  }

  /** compose stop keeps the containers: a service without one is not a stopped service. */
  async definedMounts(): Promise<DefinedMounts | undefined> {
    return undefined;
  }

  logs(services: readonly string[], options: RuntimeLogsOptions): Promise<ForegroundResult> {
    const verb = ['logs'];
    if (options.follow) verb.push('--follow');
    if (options.timestamps) verb.push('--timestamps');
    if (options.since !== undefined) verb.push('--since', options.since);
    if (options.tail !== undefined) verb.push('--tail', options.tail);
    return composeForeground(this.containers, this.target, [...verb, ...services], { stdin: 'ignore', timeoutMs: options.timeoutMs });
  }
}
