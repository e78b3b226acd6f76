import os from 'node:os';
import type { Config } from '../config/schema.js';
import type { Context, Reporter } from '../context.js';
import { systemClock } from '../common/clock.js';
import { TenantctlError } from '../common/errors.js';
import { openAdminDb } from '../admin-db/connect.js';
import { DockerHost, parseDockerEndpoint } from '../stack/docker-host.js';
import type { AdminDb } from '../admin-db/database.js';
import { noPause, pausePoints, type PausePoint } from '../common/pause-points.js';

/**
 * Builds the context a command runs in. This is where the process environment is read: the Docker
 * endpoint (DOCKER_HOST), the host's name for allocations (TENANTCTL_HOST_ID), the compose flavour
 * (TENANTCTL_COMPOSE) and the actor for audit rows (TENANTCTL_ACTOR).
 */
export function createContext({ config, env, reporter, signal, adminConnections }: {
  config: Config;
  env: NodeJS.ProcessEnv;
  reporter: Reporter;
  signal: AbortSignal;
  /** Admin database connections; a batch needs about two per tenant in flight. */
  adminConnections?: number;
}): Context {
  const dockerHost = new DockerHost(env.TENANTCTL_HOST_ID || os.hostname(), parseDockerEndpoint(env.DOCKER_HOST), {
    composeFlavour: composeFlavourFrom(env),
    searchPath: env.PATH ?? '',
  });
  const actor = env.TENANTCTL_ACTOR || `${safeUser()}@${os.hostname()}`;
  let adminDb: Promise<AdminDb> | undefined;
  return {
    config,
    env,
    clock: systemClock,
    reporter,
    signal,
    dockerHost,
    actor,
    pause: pausePointsFrom(env, signal),
    adminDb: () =>
      (adminDb ??= openAdminDb({
        config,
        actor,
        dockerHost,
        clock: systemClock,
        signal,
        progress: (m) => reporter.info(m),
        maxConnections: adminConnections,
      })),
    async close() {
      if (adminDb) await (await adminDb.catch(() => undefined))?.close();
    },
  };
}

/** TENANTCTL_PAUSE_AT=step[,step] with TENANTCTL_PAUSE_FILE: for tests that stop a run at a named step. */
function pausePointsFrom(env: NodeJS.ProcessEnv, signal: AbortSignal): PausePoint {
  const steps = (env.TENANTCTL_PAUSE_AT ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (steps.length === 0) return noPause;
  if (!env.TENANTCTL_PAUSE_FILE) throw new TenantctlError('usage', 'TENANTCTL_PAUSE_AT needs TENANTCTL_PAUSE_FILE: the file the paused run writes and waits to see removed');
  return pausePoints(new Set(steps), env.TENANTCTL_PAUSE_FILE, { signal });
}

function composeFlavourFrom(env: NodeJS.ProcessEnv): 'v1' | 'v2' | undefined {
  const forced = env.TENANTCTL_COMPOSE;
  if (forced === undefined || forced === '') return undefined;
  if (forced === 'v1' || forced === 'v2') return forced;
  throw new TenantctlError('usage', `TENANTCTL_COMPOSE must be v1 or v2, not ${JSON.stringify(forced)}`);
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}
