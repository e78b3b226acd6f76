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
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.get({ socketPath: this.socketPath, path, timeout: timeoutMs, signal, headers: { accept: 'application/json' } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)));
      request.on('error', reject);
    }).catch((error: unknown) => {
      if (signal?.aborted) throw new TenantctlError('interrupted', `docker API GET ${path} was cancelled`);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES') {
        throw new TenantctlError('docker', `the Docker engine is not reachable at ${this.socketPath}: ${messageOf(error)}`, { cause: error });
      }
      throw new TenantctlError('docker', `docker API GET ${path.split('?')[0]} failed: ${messageOf(error)}`, { cause: error });
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
