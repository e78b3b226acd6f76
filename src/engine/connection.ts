import type { EngineApi } from './engine-api.js';

/**
 * What the helpers DockerHost calls for itself (engine-id.ts, image-shipping.ts) use of a host: the
 * part of DockerHost they need, as a type of their own, so that they do not import docker-host.ts
 * back (no import circles, not even type-only ones). DockerHost implements it.
 */
export interface EngineConnection {
  /** The host's name, for messages. */
  readonly id: string;
  /** The environment a docker child gets: the endpoint, TLS, the ssh wrapper's PATH. */
  readonly env: Record<string, string>;
  /** The engine's socket API when questions may skip the CLI (engine-api.ts), else undefined. */
  readonly api: EngineApi | undefined;
  /** Opens what the children's connection needs first (an ssh master), before a child is started. */
  connect(): Promise<void>;
  /** One docker CLI call; its stdout, or a typed error naming the engine or the failing verb. */
  docker(args: string[], options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<string>;
}
