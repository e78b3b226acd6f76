import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { TenantctlError } from '../errors.js';
import { localComposeFile } from '../paths.js';
import type { Config } from '../config/schema.js';
import type { ComposeClient } from '../compose/client.js';
import { ensurePrivateDir, formatEnvFile, generateSecret, parseEnvFile, writePrivateFile } from '../secrets.js';
import { Registry } from './registry.js';
import type { Clock } from '../compose/wait.js';

export interface AdminConnectionDeps {
  config: Config;
  actor: string;
  compose: () => Promise<ComposeClient>;
  clock: Clock;
  signal?: AbortSignal;
  progress: (message: string) => void;
  maxConnections?: number;
}

/**
 * Opens the registry. With TENANTCTL_ADMIN_DATABASE_URL (adminDatabase.url) it only connects.
 * Otherwise it uses the local admin database from docker-compose.local.yml, starting it when it is
 * not answering. Its password is generated once into <stateDir>/admin-db.env (mode 0600).
 */
export async function openRegistry(deps: AdminConnectionDeps): Promise<Registry> {
  const { config } = deps;
  const options = { maxConnections: deps.maxConnections };
  if (config.adminDatabase.url) return Registry.open(config.adminDatabase.url, deps.actor, options);

  const password = await localAdminPassword(config.stateDir);
  const port = config.adminDatabase.localPort;
  const url = `postgres://tenantctl:${password}@127.0.0.1:${port}/tenantctl_admin`;
  try {
    return await Registry.open(url, deps.actor, options);
  } catch (error) {
    if (!isNotListening(error)) throw explainLocalFailure(error, config);
  }

  deps.progress(`starting the local admin database (compose project ${config.adminDatabase.localProject}, 127.0.0.1:${port})`);
  const compose = await deps.compose();
  const env = { TENANTCTL_ADMIN_DB_PASSWORD: password, TENANTCTL_ADMIN_DB_PORT: String(port), TENANTCTL_POSTGRES_IMAGE: config.images.postgres };
  try {
    await compose.up({ project: config.adminDatabase.localProject, file: localComposeFile }, { services: ['admin-db'], env, timeoutMs: 120_000, signal: deps.signal });
  } catch (error) {
    // Another tenantctl process may be starting it at this very moment; only give up if it never answers.
    deps.progress(`compose up of the admin database reported: ${(error as Error).message}`);
  }
  const giveUpAt = deps.clock.now() + config.healthDeadlineSeconds * 1000;
  for (;;) {
    try {
      return await Registry.open(url, deps.actor, options);
    } catch (error) {
      const starting = isNotListening(error) || /starting up|shutting down|terminating connection/i.test(String((error as Error).message));
      if (!starting) throw explainLocalFailure(error, config);
      if (deps.clock.now() >= giveUpAt) throw new TenantctlError('adminDb', `the local admin database did not accept connections within ${config.healthDeadlineSeconds} s`, { cause: error });
      await deps.clock.sleep(250, deps.signal);
    }
  }
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
        `the local admin database on 127.0.0.1:${config.adminDatabase.localPort} does not accept the password in ${path.join(config.stateDir, 'admin-db.env')}; it was created from another state dir (set TENANTCTL_STATE_DIR to that one, or TENANTCTL_ADMIN_DATABASE_URL)`,
        { cause: error },
      );
    }
  }
  return error;
}
