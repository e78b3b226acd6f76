import os from 'node:os';
import type { Config } from '../config/schema.js';
import type { Context, HostSpec, Reporter } from '../context.js';
import { systemClock } from '../common/clock.js';
import { TenantctlError } from '../common/errors.js';
import { openAdminDb } from '../admin-db/connect.js';
import { DockerHost, parseDockerEndpoint } from '../engine/docker-host.js';
import { localEngineSocket } from './engine-socket.js';
import type { AdminDb } from '../admin-db/database.js';
import { noPause, pausePoints, type PausePoint } from '../common/pause-points.js';
import { setChildEnvironmentBase } from '../common/child-env.js';
import { ignoreFailure } from '../common/ignore-failure.js';

/**
 * Builds the context a command runs in. This is where the process environment is read: the Docker
 * endpoint (DOCKER_HOST), the host's name for allocations (TENANTCTL_HOST_ID), the compose flavour
 * (TENANTCTL_COMPOSE) and the actor for audit rows (TENANTCTL_ACTOR).
 */
export function createContext({ config, env, reporter, signal, adminConnections, adminIdleMs }: {
  config: Config;
  env: NodeJS.ProcessEnv;
  reporter: Reporter;
  signal: AbortSignal;
  /** Admin database connections; a batch needs about two per tenant in flight. */
  adminConnections?: number;
  /** How long idle admin database connections are kept (the agent keeps one warm). */
  adminIdleMs?: number;
}): Context {
  // Children (docker, compose, ssh) get only what they need of it (common/child-env.ts).
  setChildEnvironmentBase(env);
  const composeFlavour = composeFlavourFrom(env);
  // ssh:// engines: this command's ssh config and master connection live under the state dir;
  // TENANTCTL_SSH_CONFIG names an ssh_config of the operator's that it includes (keys, users).
  const ssh = { stateDir: config.stateDir, configFile: env.TENANTCTL_SSH_CONFIG || undefined };
  const dockerHost = new DockerHost(env.TENANTCTL_HOST_ID || os.hostname(), parseDockerEndpoint(env.DOCKER_HOST), {
    composeFlavour,
    searchPath: env.PATH ?? '',
    localEngineSocket: localEngineSocket(env),
    ssh,
    stateDir: config.stateDir,
    // This environment's own remote host (DOCKER_HOST): where its tenants' front-door port is published.
    publishAddress: env.TENANTCTL_PUBLISH_ADDRESS || undefined,
  });
  // Registered hosts of the fleet: one DockerHost each for the whole command, so whatever
  // connection it keeps (an ssh master) is reused by every call and closed with the context.
  const fleet = new Map<string, DockerHost>();
  const hostFor = (spec: HostSpec) => {
    let host = fleet.get(spec.name);
    if (!host) {
      host = new DockerHost(spec.name, parseDockerEndpoint(spec.endpoint), { composeFlavour, searchPath: env.PATH ?? '', tlsCertPath: spec.tlsCertPath, ssh, kind: spec.kind, stateDir: config.stateDir, publishAddress: spec.publishAddress });
      fleet.set(spec.name, host);
    }
    return host;
  };
  const actor = env.TENANTCTL_ACTOR || `${safeUser()}@${os.hostname()}`;
  let adminDb: Promise<AdminDb> | undefined;
  return {
    config,
    env,
    clock: systemClock,
    reporter,
    signal,
    dockerHost,
    hostFor,
    homeHost: dockerHost,
    actor,
    pause: pausePointsFrom(env, signal),
    settleOperation: async (caller, op) => (await import('./settle-table.js')).settleOperation(caller, op),
    adminDb: () =>
      (adminDb ??= openAdminDb({
        config,
        actor,
        dockerHost,
        clock: systemClock,
        signal,
        progress: (m) => reporter.info(m),
        maxConnections: adminConnections,
        idleTimeoutMs: adminIdleMs,
      })),
    async close() {
      await Promise.all([...fleet.values(), dockerHost].map((host) => (host as { close?: () => Promise<void> }).close?.().catch(ignoreFailure("the command's result is already decided; an ssh master that will not close ends with this process anyway"))));
      if (adminDb) await (await adminDb.catch(ignoreFailure('a database that never opened was reported where it was awaited: nothing to close')))?.close();
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
