import type { DockerHost } from '../engine/docker-host.js';
import type { ForegroundResult } from '../common/interactive.js';

// Where a tenant runs, as the verbs need it (issue 20): one seam, two runtimes. A compose project
// on a local or remote engine (compose-runtime.ts), or a stack on a Docker Swarm pinned to one node
// (swarm-runtime.ts). A verb asks the runtime to stop, start or restart services and to show their
// logs; everything it does to containers and volumes themselves (docker exec, a helper container on
// a volume, inspect) it does on `containers`, the engine that holds them: the host itself, or the
// swarm node. Both runtimes label the containers alike (com.docker.compose.project and .service;
// swarm-render.ts adds them), so what finds a service's container is the same for both.

export interface RuntimeCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (line: string) => void;
}

export interface RuntimeLogsOptions {
  follow?: boolean;
  timestamps?: boolean;
  /** A Go duration (30s, 2h) or a date: what compose and docker take. */
  since?: string;
  tail?: string;
  /** A bounded stream's limit; none when following. */
  timeoutMs?: number;
}

export interface DefinedMounts {
  image: string;
  /** Named volumes by mount point, as the engine holding the containers names them. */
  volumes: Record<string, string>;
}

export interface TenantRuntime {
  readonly kind: 'compose' | 'swarm';
  /** The engine holding the tenant's containers and volumes: docker exec, run and inspect go there. */
  readonly containers: DockerHost;
  /** Stops the services (all when none are named); their containers and volumes stay (compose) or their tasks end (swarm). */
  stop(services: readonly string[] | undefined, options: RuntimeCallOptions): Promise<void>;
  /** Starts the services (all when none are named) again. */
  start(services: readonly string[] | undefined, options: RuntimeCallOptions): Promise<void>;
  restart(services: readonly string[] | undefined, options: RuntimeCallOptions): Promise<void>;
  /**
   * What a service's container is made of, from the service's definition, for when it has no
   * container (a swarm service scaled to 0 has none; a stopped compose service keeps its container,
   * so compose answers undefined): its image and its named volumes by mount point.
   */
  definedMounts(service: string, signal?: AbortSignal): Promise<DefinedMounts | undefined>;
  /** The services' logs (all when none are named) straight to stdout, in the foreground. */
  logs(services: readonly string[], options: RuntimeLogsOptions): Promise<ForegroundResult>;
}
