import os from 'node:os';
import type { Config } from './config/schema.js';
import type { Clock } from './common/clock.js';
import type { AdminDb } from './admin-db/database.js';
import type { DockerHost } from './engine/docker-host.js';
import type { PausePoint } from './common/pause-points.js';
import type { Operation, SettleOutcome } from './operations/journal.js';

/** Progress of long steps; the CLI prints it to stderr so stdout stays clean for --json. */
export interface Reporter {
  step(label: string): void;
  info(message: string): void;
  /** Raw lines from compose, shown only with --verbose. */
  detail(line: string): void;
  /** Closes the current step (prints its duration). */
  end(): void;
}

/**
 * Everything a command needs from the outside world, built once by the CLI (src/cli/context.ts)
 * and passed in: nothing below the CLI reads the process environment or picks an address itself.
 */
export interface Context {
  config: Config;
  /** The process environment, for what is only ever given there (the master key). */
  env: NodeJS.ProcessEnv;
  clock: Clock;
  reporter: Reporter;
  signal: AbortSignal;
  /** The Docker host every docker/compose call, port check and probe goes to. */
  dockerHost: DockerHost;
  /**
   * A registered host of the fleet (src/hosts/), built once per command and reused: one
   * connection per host per command. The environment's host is `dockerHost` itself.
   */
  hostFor(spec: HostSpec): DockerHost;
  /**
   * This environment's own host (DOCKER_HOST): where the local admin database and the front door
   * run. It is `dockerHost` unless the command was routed to a tenant's host of the fleet.
   */
  homeHost: DockerHost;
  /** Who is acting, for the audit log. */
  actor: string;
  /** Named points where tests stop a run deterministically (TENANTCTL_PAUSE_AT); a no-op otherwise. */
  pause: PausePoint;
  adminDb(): Promise<AdminDb>;
  /**
   * Settles an operation a killed run left in the journal, under the tenant's lock held by the
   * caller: finishes it past its point of no return, undoes it before. Each verb's own resume
   * (restore, move, rotate-secrets, upgrade, ...), looked up by the CLI (cli/settle-table.ts), runs
   * on the operation's Docker host. `ctx` is the caller's context (its signal, reporter).
   */
  settleOperation(ctx: Context, op: Operation<any>): Promise<SettleOutcome>;
  close(): Promise<void>;
}

/** How to reach a registered Docker host: its name (allocations are per host) and endpoint. */
export interface HostSpec {
  name: string;
  endpoint: string;
  /** A tcp engine with TLS: the directory with ca.pem, cert.pem and key.pem. */
  tlsCertPath?: string;
  /** A swarm manager: tenants deployed as stacks (the Swarm runtime, src/swarm/). */
  kind?: 'compose' | 'swarm';
  /** A remote host: the address its tenants' front-door port is published on (hosts add --publish-address). */
  publishAddress?: string;
}

/**
 * A tenant's direct URL. publicHost and bindAddress describe this machine; a tenant on another
 * Docker host of the fleet publishes its ports on that host, so its URL names that host's address.
 */
export function appUrlFor(config: Config, appPort: number, host?: Pick<DockerHost, 'isLocal' | 'probeAddress'>): string {
  if (host && !host.isLocal) return `http://${host.probeAddress(config.bindAddress)}:${appPort}`;
  const name = config.publicHost ?? (config.bindAddress === '0.0.0.0' ? os.hostname() : config.bindAddress);
  return `http://${name}:${appPort}`;
}
