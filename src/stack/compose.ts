import type { RunResult } from '../common/exec.js';
import { composeFailureReason } from './compose-errors.js';
import { composeDetectTimeoutMs } from '../common/timeouts.js';
import { which } from '../common/which.js';
import type { DockerHost } from '../engine/docker-host.js';
import { TenantctlError } from '../common/errors.js';
import { composeArgv, downVerb, upVerb, type ComposeFlavour, type ComposeTarget } from './compose-argv.js';
import { composeTargetFor } from './remote-files.js';
import { reapOrphans } from './orphans.js';

/** Verbs that create containers: on a remote engine the files they mount are shipped before each. */
const shippingVerbs = new Set(['up', 'create', 'run']);

export interface ComposeCallOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  env?: Record<string, string>;
  onProgress?: (line: string) => void;
}

export class ComposeError extends TenantctlError {
  constructor(message: string, readonly result: RunResult) {
    super('docker', message);
  }
}

const clients = new WeakMap<DockerHost, Promise<ComposeClient>>();

/**
 * The compose CLI for `host`, detected once per host for the process (the host's composeFlavour,
 * TENANTCTL_COMPOSE, skips detection). A failed detection is kept too: every caller gets its error.
 */
export function composeOn(host: DockerHost): Promise<ComposeClient> {
  let client = clients.get(host);
  if (!client) {
    client = ComposeClient.detect(host, { forced: host.composeFlavour, searchPath: host.searchPath });
    clients.set(host, client);
  }
  return client;
}

/**
 * The compose CLI: `docker compose` (v2) where the plugin exists, else `docker-compose` (v1; Debian's
 * 1.29 on bookworm). A forced flavour (TENANTCTL_COMPOSE, read by the CLI) skips detection.
 * Detected once per host per process; every call goes to that host.
 */
export class ComposeClient {
  private constructor(private readonly host: DockerHost, readonly flavour: ComposeFlavour) {}

  static async detect(host: DockerHost, { forced, searchPath }: { forced?: ComposeFlavour; searchPath: string }): Promise<ComposeClient> {
    if (forced) return new ComposeClient(host, forced);
    const succeeds = async (argv: string[]) => {
      try {
        return (await host.run(argv, { timeoutMs: composeDetectTimeoutMs })).exitCode === 0;
      } catch {
        return false; // not installed
      }
    };
    if (await succeeds(['docker', 'compose', 'version'])) return new ComposeClient(host, 'v2');
    // Only look for v1 on PATH: running `docker-compose version` costs a Python start-up (~1 s).
    if ((await which('docker-compose', searchPath)) !== undefined) return new ComposeClient(host, 'v1');
    throw new TenantctlError('docker', 'neither `docker compose` (v2) nor `docker-compose` (v1) is installed; on Debian: apt-get install docker-compose');
  }

  async up(target: ComposeTarget, options: ComposeCallOptions & { services?: string[] }): Promise<void> {
    if (this.host.kind === 'swarm') {
      // A swarm manager: the tenant is a stack (swarm/swarm-stack.ts), deployed whole.
      const { deploySwarmTenant, imagesOf } = await import('../swarm/swarm-stack.js');
      const { readFile } = await import('node:fs/promises');
      const deployed = await deploySwarmTenant(this.host, { project: target.project, composeFile: target.file, images: imagesOf(await readFile(target.file, 'utf8')), signal: options.signal });
      for (const note of deployed.notes) options.onProgress?.(note);
      options.onProgress?.(`stack ${target.project} deployed, every service on node ${deployed.node.hostname}`);
      return;
    }
    await this.call(target, upVerb(options.services), options, 'compose up');
  }

  async down(target: ComposeTarget, options: ComposeCallOptions & { removeVolumes: boolean }): Promise<void> {
    await this.call(target, downVerb({ removeVolumes: options.removeVolumes, timeoutSeconds: 10 }), options, 'compose down');
  }

  /** Any compose verb on one project (up and down have their own methods); a typed error naming compose's reason. */
  async call(target: ComposeTarget, verb: string[], options: ComposeCallOptions, what = `compose ${verb[0]}`): Promise<void> {
    if (this.host.kind === 'swarm') throw new TenantctlError('usage', `${what} is not available for a tenant on a swarm (${this.host.id}): its stack is deployed and removed whole`);
    // A compose of a killed tenantctl still working on this project (creating, stopping, starting)
    // would race this one, or land after it: it ends first (cheap when there is none: one readdir).
    await reapOrphans(this.host, target.project, options.onProgress);
    // On a remote engine the tenant's local files (secrets, initdb) travel into volumes first.
    const where = await composeTargetFor(this.host, target, { ship: shippingVerbs.has(verb[0] ?? ''), signal: options.signal });
    const result = await this.host.run(composeArgv(this.flavour, where, verb), {
      // It changes the project's stack: run in its own process group, recorded (see DockerHost.run).
      project: target.project,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      env: options.env,
      onStderrLine: options.onProgress,
    });
    if (result.cancelled) throw new TenantctlError('interrupted', `${what} was cancelled`);
    if (result.timedOut) throw new ComposeError(`${what} for ${target.project} timed out after ${Math.round(options.timeoutMs / 1000)} s`, result);
    if (result.exitCode !== 0) {
      throw new ComposeError(`${what} for ${target.project} failed (exit ${result.exitCode}): ${composeFailureReason(result.stderrTail)}`, result);
    }
  }
}
