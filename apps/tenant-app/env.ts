// The tenant app's configuration, read once from the environment that tenantctl's compose
// template sets. PG* variables are not read here: the pg driver reads them itself.
// Secrets (PGPASSWORD, REDIS_PASSWORD, JWT_SECRET, or each as a file named by VAR_FILE) must never
// be logged; describeEnv() is the only thing that goes to the log and it holds none of them.

import { readFileSync } from 'node:fs';

export type Mode = 'web' | 'worker';

export interface AppEnv {
  mode: Mode;
  port: number;
  tenantId: string;
  tenantName: string;
  tenantPlan: string;
  redisHost: string;
  redisPort: number;
  redisPassword: string | undefined;
  jwtSecret: string | undefined;
}

export class EnvError extends Error {}

/** Secrets that may be given as a file instead (VAR_FILE=/run/secrets/...), e.g. Docker secrets. */
export const fileVariables = ['PGPASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'] as const;

/**
 * For each of fileVariables given as VAR_FILE, reads the file into env.VAR (a trailing newline
 * dropped), so pg (which reads PGPASSWORD itself) and readEnv see it. Both set is an error.
 */
export function loadFileVariables(env: NodeJS.ProcessEnv = process.env, read: (file: string) => string = (file) => readFileSync(file, 'utf8')): void {
  for (const name of fileVariables) {
    const file = env[`${name}_FILE`];
    if (!file) continue;
    if (env[name]) throw new EnvError(`both ${name} and ${name}_FILE are set; set only one`);
    try {
      env[name] = read(file).replace(/\r?\n$/, '');
    } catch (error) {
      throw new EnvError(`${name}_FILE=${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    delete env[`${name}_FILE`];
  }
}

function parsePort(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new EnvError(`${name} must be a port number (1-65535), got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): AppEnv {
  const mode = (env.MODE ?? '').trim() || 'web';
  if (mode !== 'web' && mode !== 'worker') {
    throw new EnvError(`MODE must be "web" or "worker", got ${JSON.stringify(mode)}`);
  }
  return {
    mode,
    port: parsePort('PORT', env.PORT, 3000),
    tenantId: env.TENANT_ID ?? '',
    tenantName: env.TENANT_NAME ?? '',
    tenantPlan: env.TENANT_PLAN ?? '',
    redisHost: env.REDIS_HOST || '127.0.0.1',
    redisPort: parsePort('REDIS_PORT', env.REDIS_PORT, 6379),
    // An empty password means "no AUTH", not "AUTH with an empty string".
    redisPassword: env.REDIS_PASSWORD || undefined,
    jwtSecret: env.JWT_SECRET || undefined,
  };
}

/** What is safe to log about the configuration: where things are, never credentials. */
export function describeEnv(config: AppEnv, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  return {
    port: config.mode === 'web' ? config.port : undefined,
    plan: config.tenantPlan || undefined,
    pg: `${env.PGUSER ?? '?'}@${env.PGHOST ?? 'localhost'}:${env.PGPORT ?? '5432'}/${env.PGDATABASE ?? '?'}`,
    redis: `${config.redisHost}:${config.redisPort}`,
  };
}
