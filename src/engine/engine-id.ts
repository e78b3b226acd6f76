import { TenantctlError } from '../common/errors.js';
import { engineIdTimeoutMs } from '../common/timeouts.js';
import type { EngineConnection } from './connection.js';

// A Docker engine's own ID (`docker info` .ID, kept in the engine's /var/lib/docker/engine-id):
// what tells two host names apart, or proves them one engine. A host name alone cannot: it defaults
// to the machine's hostname, which changes, and one daemon is reached by its socket, tcp and ssh alike.

/**
 * Asks the engine its ID: over the local socket's API when the CLI would use that engine too
 * (a few milliseconds), else one `docker info` (a program start, tens of milliseconds; a remote
 * engine's round trips on top). DockerHost.engineId() caches the answer for the process.
 */
export async function askEngineId(host: EngineConnection, { signal, timeoutMs = engineIdTimeoutMs }: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string> {
  const id = host.api
    ? (await host.api.get<{ ID?: unknown }>('/info', { signal, timeoutMs }))?.ID
    : (await host.docker(['info', '--format', '{{.ID}}'], { signal, timeoutMs })).trim();
  // `docker info` prints only the client's part, and exits 0, on some versions when the server is gone.
  if (typeof id !== 'string' || id === '') throw new TenantctlError('docker', `the Docker engine of host ${host.id} did not say its ID (docker info .ID)`);
  return id;
}
