import http from 'node:http';
import { TenantctlError, messageOf } from '../common/errors.js';

/**
 * Read-only questions to a Docker engine on a unix socket, asked over its HTTP API directly.
 *
 * Why not the docker CLI for these: each CLI call is a Go program start, 60-100 ms of wall time and
 * most of a core's worth of CPU on a busy 2-core host, and a provision asks several (images
 * present, subnets in use, then a container inspect per readiness round). Over the socket the same
 * answers take a millisecond or two, so readiness rounds see a service come up sooner and ten
 * provisions at once do not load the host with CLI start-ups. Changes (compose up/down, rm, exec)
 * still go through the CLI and compose: they are what operators recognise and what the error
 * messages are matched on. Why not dockerode: it would bring docker-modem and ssh2 into every
 * command's start-up for the four GETs used here.
 *
 * Only GET, only JSON, only a unix socket (the local engine, or DOCKER_HOST=unix://); tcp and ssh
 * engines are asked through the CLI, which handles their TLS and ssh transport.
 */
export class EngineApi {
  constructor(readonly socketPath: string) {}

  /** GETs `path` (with its query); the parsed body, or undefined for 404 (no such object). */
  async get<T>(path: string, { signal, timeoutMs }: { signal?: AbortSignal; timeoutMs: number }): Promise<T | undefined> {
    const [answer] = await this.getAll<T>([path], { signal, timeoutMs, concurrency: 1 });
    if (answer!.status === 'rejected') throw answer!.reason;
    return answer!.value;
  }

  /**
   * GETs every path, at most `concurrency` at once; each answer settled on its own (a 404 is
   * undefined). The caller's signal gets ONE abort listener for the whole batch, which destroys the
   * requests in flight: handing the signal to each http.get would add a listener per request in
   * flight, and a pass that inspects a dozen freshly started containers (or samples the stats of a
   * hundred) put eleven and more on one signal at once (MaxListenersExceededWarning in the agent's
   * and the watch's logs).
   */
  async getAll<T>(paths: readonly string[], { signal, timeoutMs, concurrency = 16 }: { signal?: AbortSignal; timeoutMs: number; concurrency?: number }): Promise<Array<PromiseSettledResult<T | undefined>>> {
    const results: Array<PromiseSettledResult<T | undefined>> = new Array(paths.length);
    if (signal?.aborted) {
      return paths.map((path) => ({ status: 'rejected', reason: new TenantctlError('interrupted', `docker API GET ${path} was cancelled`) }));
    }
    const inFlight = new Set<http.ClientRequest>();
    const cancelled = new Error('cancelled');
    const onAbort = () => {
      for (const request of inFlight) request.destroy(cancelled);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let next = 0;
      const worker = async () => {
        while (next < paths.length) {
          const index = next++;
          const path = paths[index]!;
          if (signal?.aborted) {
            results[index] = { status: 'rejected', reason: new TenantctlError('interrupted', `docker API GET ${path} was cancelled`) };
            continue;
          }
          results[index] = await this.getOne<T>(path, timeoutMs, inFlight, signal).then(
            (value) => ({ status: 'fulfilled' as const, value }),
            (reason: unknown) => ({ status: 'rejected' as const, reason }),
          );
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, paths.length)) }, worker));
      return results;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** One GET, registered in `inFlight` while it runs (the batch's abort destroys it). */
  private async getOne<T>(path: string, timeoutMs: number, inFlight: Set<http.ClientRequest>, signal: AbortSignal | undefined): Promise<T | undefined> {
    let request: http.ClientRequest | undefined;
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      request = http.get({ socketPath: this.socketPath, path, timeout: timeoutMs, headers: { accept: 'application/json' } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      inFlight.add(request);
      request.on('timeout', () => request!.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)));
      request.on('error', reject);
    }).catch((error: unknown) => {
      if (signal?.aborted) throw new TenantctlError('interrupted', `docker API GET ${path} was cancelled`);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES') {
        throw new TenantctlError('docker', `the Docker engine is not reachable at ${this.socketPath}: ${messageOf(error)}`, { cause: error });
      }
      throw new TenantctlError('docker', `docker API GET ${path.split('?')[0]} failed: ${messageOf(error)}`, { cause: error });
    }).finally(() => {
      if (request) inFlight.delete(request);
    });
    if (status === 404) return undefined;
    if (status < 200 || status >= 300) {
      throw new TenantctlError('docker', `docker API GET ${path.split('?')[0]} answered ${status}: ${engineMessage(body)}`);
    }
    return JSON.parse(body) as T;
  }
}

/** The engine's own error text ({"message": "..."}), or the body's first line. */
function engineMessage(body: string): string {
  try {
    const message = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON: fall through
  }
  return body.split('\n')[0]!.slice(0, 300);
}

/** `filters` as the engine API takes them: a JSON object of name -> values, URL-encoded. */
export function filtersQuery(filters: Record<string, string[]>): string {
  return `filters=${encodeURIComponent(JSON.stringify(filters))}`;
}
