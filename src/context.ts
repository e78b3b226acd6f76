import os from 'node:os';
import type { Config } from './config/schema.js';
import { ComposeClient } from './compose/client.js';
import { systemClock, type Clock } from './compose/wait.js';
import { openRegistry } from './db/admin-connection.js';
import type { Registry } from './db/registry.js';

/** Progress of long steps; the CLI prints it to stderr so stdout stays clean for --json. */
export interface Reporter {
  step(label: string): void;
  info(message: string): void;
  /** Raw lines from compose, shown only with --verbose. */
  detail(line: string): void;
  /** Closes the current step (prints its duration). */
  end(): void;
}

/** Everything a command needs from the outside world, built once and passed in. */
export interface Context {
  config: Config;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  reporter: Reporter;
  signal: AbortSignal;
  /** Docker host identity: allocations are per host. */
  host: string;
  /** Who is acting, for the audit log. */
  actor: string;
  compose(): Promise<ComposeClient>;
  registry(): Promise<Registry>;
  close(): Promise<void>;
}

export function createContext({ config, env, reporter, signal, registryConnections }: {
  config: Config;
  env: NodeJS.ProcessEnv;
  reporter: Reporter;
  signal: AbortSignal;
  /** Admin database connections; a batch needs about two per tenant in flight. */
  registryConnections?: number;
}): Context {
  let compose: Promise<ComposeClient> | undefined;
  let registry: Promise<Registry> | undefined;
  const host = env.TENANTCTL_HOST_ID || os.hostname();
  const actor = env.TENANTCTL_ACTOR || `${safeUser()}@${os.hostname()}`;
  const context: Context = {
    config,
    env,
    clock: systemClock,
    reporter,
    signal,
    host,
    actor,
    compose: () => (compose ??= ComposeClient.detect(env)),
    registry: () =>
      (registry ??= openRegistry({ config, actor, compose: context.compose, clock: systemClock, signal, progress: (m) => reporter.info(m), maxConnections: registryConnections })),
    async close() {
      if (registry) await (await registry.catch(() => undefined))?.close();
    },
  };
  return context;
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

export function appUrlFor(config: Config, appPort: number): string {
  const host = config.publicHost ?? (config.bindAddress === '0.0.0.0' ? os.hostname() : config.bindAddress);
  return `http://${host}:${appPort}`;
}
