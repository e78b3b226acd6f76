import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { TenantctlError, messageOf } from '../common/errors.js';
import { localComposeFile } from '../common/paths.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../common/clock.js';
import { ensurePrivateDir, writePrivateFile } from '../common/private-files.js';
import { formatEnvFile, parseEnvFile } from '../common/env-file.js';
import { generateSecret } from '../secrets/generate.js';
import { adminDbUpTimeoutMs } from '../common/timeouts.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import type { DockerHost } from '../engine/docker-host.js';
import { composeOn } from '../stack/compose.js';
import { AdminDb, isTransientConnectionError } from './database.js';
import { withLockFile } from '../common/lock-file.js';

/** docker-compose.local.yml publishes the admin database on the Docker host's loopback only. */
const localAdminBindAddress = '127.0.0.1';

export interface AdminConnectionDeps {
  config: Config;
  actor: string;
  /** Where the local admin database runs (started with compose) and is dialled. */
  dockerHost: DockerHost;
  clock: Clock;
  signal?: AbortSignal;
  progress: (message: string) => void;
  maxConnections?: number;
  /** How long an idle pooled connection is kept (AdminDb.open). */
  idleTimeoutMs?: number;
}

/**
 * Opens the admin database. With TENANTCTL_ADMIN_DATABASE_URL (adminDatabase.url) it only connects.
 * Otherwise it uses the local admin database from docker-compose.local.yml, starting it when it is
 * not answering. Its password is generated once into <stateDir>/admin-db.env (mode 0600).
 */
export async function openAdminDb(deps: AdminConnectionDeps): Promise<AdminDb> {
  const { config } = deps;
  const patienceMs = config.adminDatabase.patienceSeconds * 1000;
  const options = { maxConnections: deps.maxConnections, patienceMs, idleTimeoutMs: deps.idleTimeoutMs };
  // Retries an open that meets a busy or starting server, until the deadline; anything else is final.
  const openPatiently = (url: string, deadlineMs: number, what: string) => retryUntilDeadline(async () => {
    try {
      return done(await AdminDb.open(url, deps.actor, options));
    } catch (error) {
      if (!isTransientConnectionError(firstCause(error)) && !/terminating connection/i.test(messageOf(firstCause(error)))) throw explainLocalFailure(error, config);
      return notYet(messageOf(firstCause(error)));
    }
  }, {
    what,
    deadlineMs,
    clock: deps.clock,
    signal: deps.signal,
    initialDelayMs: 250,
    onDeadline: (why) => new TenantctlError('adminDb', `the admin database did not accept connections within ${Math.round(deadlineMs / 1000)} s: ${why}`),
  });
  if (config.adminDatabase.url) return openPatiently(config.adminDatabase.url, patienceMs, 'connecting to the admin database');

  const password = await localAdminPassword(config.stateDir);
  const port = config.adminDatabase.localPort;
  // Published on the Docker host's loopback (docker-compose.local.yml): dialled where that is.
  const address = deps.dockerHost.probeAddress(localAdminBindAddress);
  const url = `postgres://tenantctl:${password}@${address}:${port}/tenantctl_admin`;
  try {
    return await AdminDb.open(url, deps.actor, options);
  } catch (error) {
    // Running but slow to answer (a busy host): wait for it rather than start another.
    if (!isNotListening(error)) {
      if (isTransientConnectionError(firstCause(error))) return openPatiently(url, patienceMs, 'connecting to the local admin database');
      throw explainLocalFailure(error, config);
    }
  }

  // One process starts it at a time: compose v2 run twice at once creates the project's network
  // twice ("network ... is ambiguous") and both fail. The others wait, then find it answering.
  const startDeadlineMs = config.healthDeadlineSeconds * 1000;
  return withLockFile(path.join(config.stateDir, 'admin-db.start.lock'), async () => {
    try {
      return await AdminDb.open(url, deps.actor, options); // started by the process that held the lock
    } catch (error) {
      if (!isNotListening(error)) throw explainLocalFailure(error, config);
    }
    deps.progress(`starting the local admin database (compose project ${config.adminDatabase.localProject}, ${address}:${port})`);
    const compose = await composeOn(deps.dockerHost);
    // The password as a file (0600) the container gets as a compose secret: never in compose's
    // environment or the container's (docker inspect). An admin-db container made before this, with
    // POSTGRES_PASSWORD in its environment, is recreated by this up with the same password (its data
    // volume stays; the password only matters to a first start anyway).
    const passwordFile = path.join(config.stateDir, 'admin-db.password');
    await writePrivateFile(passwordFile, password);
    const env = { TENANTCTL_ADMIN_DB_PASSWORD_FILE: passwordFile, TENANTCTL_ADMIN_DB_PORT: String(port), TENANTCTL_POSTGRES_IMAGE: config.images.postgres };
    try {
      await compose.up({ project: config.adminDatabase.localProject, file: localComposeFile }, { services: ['admin-db'], env, timeoutMs: adminDbUpTimeoutMs, signal: deps.signal });
    } catch (error) {
      // It may still come up (a container left by an earlier start); only give up if it never answers.
      deps.progress(`compose up of the admin database reported: ${(error as Error).message}`);
    }
    return openPatiently(url, startDeadlineMs, 'waiting for the local admin database');
  }, { what: 'waiting for another tenantctl to start the local admin database', deadlineMs: startDeadlineMs + adminDbUpTimeoutMs, clock: deps.clock, signal: deps.signal });
}

/** The innermost cause: AdminDb.open wraps the driver's error. */
function firstCause(error: unknown): unknown {
  let e: any = error;
  while (e?.cause) e = e.cause;
  return e;
}

async function localAdminPassword(stateDir: string): Promise<string> {
  const file = path.join(stateDir, 'admin-db.env');
  await ensurePrivateDir(stateDir);
  try {
    await writePrivateFile(file, formatEnvFile({ TENANTCTL_ADMIN_DB_PASSWORD: generateSecret() }, 'tenantctl local admin database; keep private'), { exclusive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another process created it first: use theirs
  }
  const password = parseEnvFile(await readFile(file, 'utf8')).TENANTCTL_ADMIN_DB_PASSWORD;
  if (!password) throw new TenantctlError('adminDb', `${file} has no TENANTCTL_ADMIN_DB_PASSWORD; remove it to generate a new one`);
  return password;
}

function isNotListening(error: unknown): boolean {
  for (let e: any = error; e; e = e.cause) {
    if (e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === '57P03') return true;
    if (/ECONNREFUSED|Connection terminated unexpectedly/.test(String(e.message))) return true;
  }
  return false;
}

function explainLocalFailure(error: unknown, config: Config): unknown {
  for (let e: any = error; e; e = e.cause) {
    if (e.code === '28P01') {
      return new TenantctlError(
        'adminDb',
        `the local admin database on port ${config.adminDatabase.localPort} does not accept the password in ${path.join(config.stateDir, 'admin-db.env')}; it was created from another state dir (set TENANTCTL_STATE_DIR to that one, or TENANTCTL_ADMIN_DATABASE_URL)`,
        { cause: error },
      );
    }
  }
  return error;
}
