import { TenantctlError } from '../common/errors.js';
import { runForeground, type ForegroundOptions, type ForegroundResult } from '../common/interactive.js';
import { ComposeError, composeOn } from './compose.js';
import { composeArgv, portsReportedTaken, type ComposeTarget } from './compose-argv.js';
import type { DockerHost } from '../engine/docker-host.js';
import { composeTargetFor } from './remote-files.js';

// Day-2 calls on a running stack, through the tenant's DockerHost like every other docker and
// compose call: compose verbs that change the containers' state (stop, start, restart), and
// foreground children (compose logs, docker exec) whose output is the user's, not tenantctl's.

/**
 * `compose <verb>` for one project (stop, start, restart). A port another process took while the
 * stack was stopped is a conflict (exit 5) with what to do, not a compose failure.
 */
export async function composeVerb(
  host: DockerHost,
  target: ComposeTarget,
  verb: string[],
  { timeoutMs, signal, onProgress }: { timeoutMs: number; signal?: AbortSignal; onProgress?: (line: string) => void },
): Promise<void> {
  const compose = await composeOn(host);
  try {
    await compose.call(target, verb, { timeoutMs, signal, onProgress });
  } catch (error) {
    const taken = error instanceof ComposeError ? portsReportedTaken(error.result.stderrTail) : [];
    if (taken.length === 0) throw error;
    throw new TenantctlError(
      'conflict',
      `${(error as Error).message}; port ${taken.join(', ')} was taken by something else while ${target.project} was stopped: free it, or deprovision --keep-data and provision again for other ports`,
      { cause: error },
    );
  }
}

/** A compose command in the foreground (`compose logs`): its output goes straight to tenantctl's stdout. */
export async function composeForeground(host: DockerHost, target: ComposeTarget, verb: string[], options: ForegroundOptions): Promise<ForegroundResult> {
  const { flavour } = await composeOn(host);
  return foreground(host, composeArgv(flavour, await composeTargetFor(host, target, { ship: false }), verb), options);
}

/** A docker CLI command in the foreground (`docker exec`), with the host's endpoint in its environment. */
export function dockerForeground(host: DockerHost, args: string[], options: ForegroundOptions): Promise<ForegroundResult> {
  return foreground(host, ['docker', ...args], options);
}

async function foreground(host: DockerHost, argv: string[], options: ForegroundOptions): Promise<ForegroundResult> {
  // A swarm tenant's containers are on its node, not the manager this host reaches (swarm/swarm-stack.ts).
  if (host.kind === 'swarm') throw new TenantctlError('usage', `${argv.slice(0, 3).join(' ')} is not available for a tenant on a swarm (${host.id}) yet: run it on the tenant's node (docker stack ps <project>)`);
  try {
    return await runForeground(argv, { ...options, env: { ...options.env, ...host.env } });
  } catch (error) {
    throw new TenantctlError('docker', `${argv[0]} could not be started (is the docker CLI installed?): ${(error as Error).message}`, { cause: error });
  }
}
