import { isIP } from 'node:net';
import getPort, { portNumbers } from 'get-port';
import { run, lastErrorLine, type RunOptions, type RunResult } from '../common/exec.js';
import { TenantctlError } from '../common/errors.js';
import { dockerQueryTimeoutMs } from '../common/timeouts.js';
import { childRecordsDir } from '../common/child-records.js';
import type { EngineConnection } from './connection.js';
import { EngineApi } from './engine-api.js';
import { askEngineId } from './engine-id.js';
import { ensureImages, type ShippedImages } from './image-shipping.js';
import { SshMultiplexer } from './ssh-multiplex.js';

/**
 * Where a Docker endpoint is, as Docker understands it: the local socket (DOCKER_HOST unset),
 * unix:///path, tcp://host:port or ssh://user@host.
 */
export type DockerEndpoint =
  | { kind: 'local' }
  | { kind: 'unix'; url: string }
  | { kind: 'tcp'; url: string; address: string }
  | { kind: 'ssh'; url: string; address: string };

export function parseDockerEndpoint(value: string | undefined): DockerEndpoint {
  if (!value) return { kind: 'local' };
  const match = /^(unix|tcp|ssh):\/\/(.+)$/.exec(value);
  if (!match) throw new TenantctlError('usage', `DOCKER_HOST ${JSON.stringify(value)}: expected unix:///path, tcp://host:port or ssh://user@host`);
  const [, scheme, rest] = match as unknown as [string, 'unix' | 'tcp' | 'ssh', string];
  if (scheme === 'unix') return { kind: 'unix', url: value };
  // The address probes dial: the host part, without user, port or path.
  const address = rest.replace(/^[^@]*@/, '').replace(/[/].*$/, '').replace(/^\[([^\]]+)\].*$/, '$1').replace(/:\d+$/, '');
  if (!address) throw new TenantctlError('usage', `DOCKER_HOST ${JSON.stringify(value)} names no host`);
  return { kind: scheme, url: value, address };
}

/**
 * The Docker host tenantctl works on: every docker and compose call, port check, probe address
 * and file placement goes through it, so nothing else needs to know where the engine is. Today
 * the CLI builds one from the environment; a fleet of hosts would build one per host.
 */
export class DockerHost implements EngineConnection {
  constructor(
    /** The host's name in the admin database: allocations (ports, subnets) are per host. */
    readonly id: string,
    readonly endpoint: DockerEndpoint,
    private readonly options: {
      /** The compose CLI forced for this host (TENANTCTL_COMPOSE), handed on to the compose client (composeOn, stack/compose.ts). */
      composeFlavour?: 'v2' | 'v1';
      /** PATH (the context reads it), to find docker-compose (v1) without running it, and the real ssh behind ssh-multiplex's wrapper. */
      searchPath?: string;
      /** A tcp engine with TLS: the directory holding ca.pem, cert.pem and key.pem, as DOCKER_CERT_PATH expects. */
      tlsCertPath?: string;
      /**
       * The local engine's socket, when the docker CLI would use it too (no DOCKER_CONTEXT or
       * current context pointing elsewhere): only then may questions skip the CLI (engine-api.ts).
       */
      localEngineSocket?: string;
      /**
       * ssh:// engines: tenantctl's state dir (where this process's ssh config and master socket
       * go, see ssh-multiplex.ts) and an ssh_config of the operator's to include (TENANTCTL_SSH_CONFIG).
       */
      ssh?: { stateDir: string; configFile?: string };
      /**
       * tenantctl's state dir (config.stateDir). With it, compose calls on a project run in their own
       * process group, recorded under its children/ while they run, so that Ctrl-C stops all of one
       * and a later tenantctl can stop those a killed one left running (stack/orphans.ts). Without it
       * (helpers, unit tests) they run in tenantctl's own group, unrecorded.
       */
      stateDir?: string;
      /** A swarm manager: tenants are deployed as stacks (swarm/swarm-render.ts, swarm/swarm-stack.ts). */
      kind?: 'compose' | 'swarm';
      /** A node of a swarm (sibling()): its tenants' ports are published like the swarm's, in host mode on all interfaces. */
      swarmNode?: boolean;
      /**
       * A remote engine: the address its tenants' front-door port is published on (hosts add
       * --publish-address, TENANTCTL_PUBLISH_ADDRESS for this environment's own host); without it,
       * the engine URL's IP literal (publishAddress()).
       */
      publishAddress?: string;
    } = {},
  ) {}

  private sshMultiplexer?: SshMultiplexer;

  /** compose (a project per tenant on this engine) or swarm (a stack per tenant across the swarm). */
  get kind(): 'compose' | 'swarm' {
    return this.options.kind ?? 'compose';
  }

  private engineApi?: EngineApi | null;

  /**
   * The engine's HTTP API over its unix socket, for read-only questions that must be cheap
   * (readiness rounds, image and subnet checks); undefined for tcp/ssh engines, which are asked
   * through the CLI.
   */
  get api(): EngineApi | undefined {
    if (this.engineApi === undefined) {
      const socket = this.endpoint.kind === 'unix' ? this.endpoint.url.slice('unix://'.length) : this.endpoint.kind === 'local' ? this.options.localEngineSocket : undefined;
      this.engineApi = socket ? new EngineApi(socket) : null;
    }
    return this.engineApi ?? undefined;
  }

  private engineIdAnswer?: Promise<string>;

  /**
   * The engine's own ID (engine-id.ts), asked once per DockerHost for the process: which host
   * names are one engine (hosts add, a provision's reservation, doctor). A failed question is not
   * kept, so the next caller asks again.
   */
  engineId(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string> {
    if (!this.engineIdAnswer) {
      const asking = askEngineId(this, options);
      this.engineIdAnswer = asking;
      asking.catch(() => {
        if (this.engineIdAnswer === asking) this.engineIdAnswer = undefined;
      });
    }
    return this.engineIdAnswer;
  }

  /** An ID the engine already said (a probe's `docker info`): the next engineId() costs nothing. */
  rememberEngineId(id: string): void {
    if (id) this.engineIdAnswer = Promise.resolve(id);
  }

  /** The compose CLI forced for this host (TENANTCTL_COMPOSE), if any; composeOn (stack/compose.ts) detects it otherwise. */
  get composeFlavour(): 'v2' | 'v1' | undefined {
    return this.options.composeFlavour;
  }

  /** PATH of the children this host runs: where composeOn (stack/compose.ts) looks for docker-compose (v1). */
  get searchPath(): string {
    return this.options.searchPath ?? '';
  }

  /** Whether files on this machine can be bind-mounted into the host's containers. */
  get isLocal(): boolean {
    return this.endpoint.kind !== 'tcp' && this.endpoint.kind !== 'ssh';
  }

  /** The environment every docker/compose child gets: the endpoint, whatever the caller's own DOCKER_HOST. */
  get env(): Record<string, string> {
    if (this.endpoint.kind === 'local') return {};
    const tls: Record<string, string> = this.options.tlsCertPath ? { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: this.options.tlsCertPath } : {};
    const ssh: Record<string, string> = this.endpoint.kind === 'ssh' && this.options.ssh ? { PATH: this.ssh().childPath() } : {};
    return { DOCKER_HOST: this.endpoint.url, ...tls, ...ssh };
  }

  /**
   * Another engine reached the same way as this one (scheme, port, user, TLS, ssh config) at
   * `address`: a swarm node of this manager, for what only that node's engine knows (its local
   * volumes, its images).
   */
  sibling(id: string, address: string): DockerHost {
    const endpoint = this.endpoint;
    // The node this instance reaches itself (a manager that also runs tasks, or a local socket):
    // the same engine, as a plain engine, so its containers are reached like any node's.
    if (endpoint.kind !== 'tcp' && endpoint.kind !== 'ssh' || address === endpoint.address) {
      if (this.kind !== 'swarm') return this;
      return (this.plainTwin ??= new DockerHost(id, endpoint, { ...this.options, kind: 'compose', swarmNode: true }));
    }
    // One per node for this instance's life, so a node's ssh connection is reused too; closed with it.
    let sibling = this.siblings.get(address);
    if (!sibling) {
      const host = address.includes(':') ? `[${address}]` : address;
      const url = endpoint.url.replace(/^(\w+:\/\/(?:[^@/]*@)?)(\[[^\]]+\]|[^:/]+)/, `$1${host}`);
      // A node publishes at its own address, not the manager's.
      sibling = new DockerHost(id, { kind: endpoint.kind, url, address }, { ...this.options, publishAddress: undefined, kind: 'compose', swarmNode: this.kind === 'swarm' || this.options.swarmNode });
      this.siblings.set(address, sibling);
    }
    return sibling;
  }

  private readonly siblings = new Map<string, DockerHost>();
  private plainTwin?: DockerHost;

  private ssh(): SshMultiplexer {
    return (this.sshMultiplexer ??= new SshMultiplexer({ baseDir: this.options.ssh!.stateDir, configFile: this.options.ssh!.configFile, searchPath: this.options.searchPath ?? '' }));
  }

  /** Ends what this instance keeps open (an ssh master connection); the context calls it when the command ends. */
  async close(): Promise<void> {
    await Promise.all([this.sshMultiplexer?.close(), this.plainTwin?.close(), ...[...this.siblings.values()].map((sibling) => sibling.close())]);
  }

  /**
   * Whether a tenant's ports other than the front door's stay unpublished on this host (rendering:
   * templates/private-ports.ts) and are reached through the engine instead (`docker exec`,
   * engine/exec-tunnel.ts): on a remote engine and on a swarm (whose host-mode ports ignore the bind
   * address), a published port would be on every interface of that host; only on a local compose
   * engine does the bind address (loopback by default) keep it on this machine.
   */
  get keepsPortsPrivate(): boolean {
    return !this.isLocal || this.kind === 'swarm' || this.options.swarmNode === true;
  }

  /**
   * The address a tenant's published ports are bound to: the configured one on a local engine. On
   * a remote engine (where only the front door's port is published: keepsPortsPrivate) a loopback
   * address would be unreachable from the front door, and 0.0.0.0 would put the app, which checks
   * no API key itself, on every interface of that host (Docker's published ports bypass an
   * INPUT-chain firewall): the host's publish address (hosts add --publish-address), else the
   * engine URL's IP literal; a host named by a DNS name and no publish address is refused (exit 2)
   * rather than published on all interfaces. A swarm publishes in host mode, which Docker binds on
   * all of a node's interfaces whatever this says (README, Remote engines and Docker Swarm).
   */
  publishAddress(bindAddress: string): string {
    if (this.isLocal) return bindAddress;
    if (this.options.publishAddress) return this.options.publishAddress;
    const address = this.endpoint.kind === 'tcp' || this.endpoint.kind === 'ssh' ? this.endpoint.address : '';
    if (isIP(address)) return address;
    if (this.kind === 'swarm' || this.options.swarmNode) return '0.0.0.0';
    throw new TenantctlError('usage', `Docker host ${this.id} is reached by name (${address}): give the address its tenants' front-door port is published on (tenantctl hosts add ... --publish-address <ip>, or TENANTCTL_PUBLISH_ADDRESS for this environment's host); --publish-address 0.0.0.0 publishes on every interface, past the host's INPUT firewall`);
  }

  /**
   * Copies the images this host lacks (or has under another image id) from `from` (default: the
   * engine on this machine), `docker save | docker load`: for remote hosts without a registry.
   */
  ensureImages(images: readonly string[], { from, signal }: { from?: DockerHost; signal?: AbortSignal } = {}): Promise<ShippedImages> {
    return ensureImages(this, from ?? this.thisMachine(), images, { signal });
  }

  /**
   * The engine on this machine, by its socket (DOCKER_HOST in the environment may name a remote
   * one): where the images a remote host or a swarm node lacks are copied from, so where an
   * upgrade's new images must be.
   */
  thisMachine(): DockerHost {
    const socket = this.options.localEngineSocket ?? '/var/run/docker.sock';
    return (this.localTwin ??= new DockerHost('this machine', { kind: 'unix', url: `unix://${socket}` }));
  }

  private localTwin?: DockerHost;

  /**
   * Where to dial a port the host publishes on `bindAddress`: on a local engine the bind address
   * itself (loopback for 0.0.0.0), on a remote one the host's address.
   */
  probeAddress(bindAddress: string): string {
    // A remote host's publish address, when one is set and is not "every interface": the front door dials it.
    if (!this.isLocal && this.options.publishAddress && this.options.publishAddress !== '0.0.0.0' && this.options.publishAddress !== '::') return this.options.publishAddress;
    if (this.endpoint.kind === 'tcp' || this.endpoint.kind === 'ssh') return this.endpoint.address;
    return bindAddress === '0.0.0.0' ? '127.0.0.1' : bindAddress;
  }

  /** Where this host's compose children in flight are recorded (stack/orphans.ts); undefined: they are not. */
  get childRecordsDir(): string | undefined {
    return this.options.stateDir === undefined ? undefined : childRecordsDir(this.options.stateDir);
  }

  /**
   * Runs a program (docker, compose) against this host. Never throws for a non-zero exit.
   * `project`: the call changes that compose project's stack, so it runs in its own process group,
   * recorded while it runs (see the stateDir option).
   */
  async run(argv: readonly string[], { project, ...options }: Omit<RunOptions, 'ownGroup'> & { project?: string }): Promise<RunResult> {
    await this.connect();
    const recordsDir = this.childRecordsDir;
    const ownGroup = project !== undefined && recordsDir !== undefined ? { recordsDir, key: project } : undefined;
    return run(argv, { ...options, env: { ...this.env, ...options.env }, ownGroup });
  }

  /** ssh:// engines: the command's one connection is opened before the first call (ssh-multiplex.ts). */
  async connect(): Promise<void> {
    if (this.endpoint.kind === 'ssh' && this.options.ssh) await this.ssh().ready(this.endpoint.url);
  }

  /** One docker CLI call; its stdout, or a typed error naming the engine or the failing verb. */
  async docker(args: string[], { signal, timeoutMs = dockerQueryTimeoutMs }: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string> {
    let result;
    try {
      result = await this.run(['docker', ...args], { timeoutMs, signal });
    } catch (error) {
      throw new TenantctlError('docker', 'the docker CLI is not installed (on Debian: apt-get install docker.io)', { cause: error });
    }
    if (result.cancelled) throw new TenantctlError('interrupted', `docker ${args[0]} was cancelled`);
    if (result.timedOut) throw new TenantctlError('docker', `docker ${args.slice(0, 2).join(' ')} did not answer within ${Math.round(timeoutMs / 1000)} s`);
    if (result.exitCode !== 0) {
      const line = lastErrorLine(result.stderrTail);
      if (/Cannot connect to the Docker daemon|Is the docker daemon running|permission denied while trying to connect/i.test(line)) {
        throw new TenantctlError('docker', `the Docker engine is not reachable: ${line}`);
      }
      throw new TenantctlError('docker', `docker ${args.slice(0, 2).join(' ')} failed: ${line}`);
    }
    return result.stdout;
  }

  /** Is the port free on the host right now? Locally get-port tries to listen on it, on every interface. */
  async isPortFree(port: number): Promise<boolean> {
    if (this.isLocal) return (await getPort({ port })) === port;
    return !(await this.publishedPorts()).has(port);
  }

  /** The first port of the range that is not excluded and free on the host, or undefined. */
  async firstFreePort(range: { from: number; to: number }, exclude: ReadonlySet<number>): Promise<number | undefined> {
    if (!this.isLocal) {
      const published = await this.publishedPorts();
      for (let port = range.from; port <= range.to; port++) if (!exclude.has(port) && !published.has(port)) return port;
      return undefined;
    }
    // get-port falls back to a random port when none of the candidates is free, so check the answer.
    const port = await getPort({ port: portNumbers(range.from, range.to), exclude: [...exclude] });
    return port >= range.from && port <= range.to && !exclude.has(port) ? port : undefined;
  }

  /** A remote host's listeners cannot be probed from here; what its containers publish can be asked. */
  private async publishedPorts(): Promise<Set<number>> {
    const out = await this.docker(['ps', '--format', '{{.Ports}}']);
    return new Set([...out.matchAll(/:(\d+)->/g)].map((m) => Number(m[1])));
  }
}
