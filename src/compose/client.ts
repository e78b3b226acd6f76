import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { run, lastErrorLine, type RunResult } from '../exec.js';
import { TenantctlError } from '../errors.js';
import { composeArgv, downVerb, upVerb, type ComposeFlavour, type ComposeTarget } from './argv.js';

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

/**
 * The compose CLI: `docker compose` (v2) where the plugin exists, else `docker-compose` (v1; Debian's
 * 1.29 on these hosts). TENANTCTL_COMPOSE=v1|v2 forces one. Detected once per process.
 */
export class ComposeClient {
  private constructor(readonly flavour: ComposeFlavour) {}

  static async detect(env: NodeJS.ProcessEnv): Promise<ComposeClient> {
    const forced = env.TENANTCTL_COMPOSE;
    if (forced === 'v1' || forced === 'v2') return new ComposeClient(forced);
    if (forced) throw new TenantctlError('usage', `TENANTCTL_COMPOSE must be v1 or v2, not ${JSON.stringify(forced)}`);
    const tryRun = async (argv: string[]) => {
      try {
        return (await run(argv, { timeoutMs: 10_000 })).exitCode === 0;
      } catch {
        return false; // not installed
      }
    };
    if (await tryRun(['docker', 'compose', 'version'])) return new ComposeClient('v2');
    // Only look for v1 on PATH: running `docker-compose version` costs a Python start-up (~1 s).
    if (await onPath('docker-compose', env)) return new ComposeClient('v1');
    throw new TenantctlError('docker', 'neither `docker compose` (v2) nor `docker-compose` (v1) is installed; on Debian: apt-get install docker-compose');
  }

  async up(target: ComposeTarget, options: ComposeCallOptions & { services?: string[] }): Promise<void> {
    await this.call(target, upVerb(options.services), options, 'compose up');
  }

  async down(target: ComposeTarget, options: ComposeCallOptions & { removeVolumes: boolean }): Promise<void> {
    await this.call(target, downVerb({ removeVolumes: options.removeVolumes, timeoutSeconds: 10 }), options, 'compose down');
  }

  private async call(target: ComposeTarget, verb: string[], options: ComposeCallOptions, what: string): Promise<void> {
    const result = await run(composeArgv(this.flavour, target, verb), {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      env: options.env,
      onStderrLine: options.onProgress,
    });
    if (result.cancelled) throw new TenantctlError('interrupted', `${what} was cancelled`);
    if (result.timedOut) throw new ComposeError(`${what} for ${target.project} timed out after ${Math.round(options.timeoutMs / 1000)} s`, result);
    if (result.exitCode !== 0) {
      throw new ComposeError(`${what} for ${target.project} failed (exit ${result.exitCode}): ${lastErrorLine(result.stderrTail)}`, result);
    }
  }
}

async function onPath(program: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    try {
      await access(path.join(dir, program), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
