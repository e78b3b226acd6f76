import http from 'node:http';
import { TenantctlError } from '../common/errors.js';

// The agent's HTTP server, on 127.0.0.1 only (agent.port): a table of routes, path -> handler, so
// what comes next mounts itself with one line: /metrics (src/metrics, Prometheus exposition), the
// gateway's wake requests, the HTTP API. Nothing here is reachable from outside the host.

export type RouteHandler = (request: http.IncomingMessage, response: http.ServerResponse) => void | Promise<void>;
/** GET routes by exact path. */
export type RouteTable = Map<string, RouteHandler>;

export function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  response.end(text);
}

/**
 * Whether a request's Host header names this server: 127.0.0.1, localhost or [::1] with its port.
 * Anything else is a browser tricked into calling loopback under another name (DNS rebinding: a
 * page of evil.example whose name now resolves to 127.0.0.1), and is refused.
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const wanted = host.trim().toLowerCase();
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(wanted);
}

/** At most this many sockets at once: the agent's clients are a local scraper and `agent status`. */
export const maxConnections = 32;

export function startServer(routes: RouteTable, port: number, onError: (error: unknown) => void = () => {}): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const listening = (server.address() as { port: number } | null)?.port ?? port;
    if (!hostAllowed(request.headers.host, listening)) return sendJson(response, 421, { error: 'misdirected request: this server answers to 127.0.0.1, localhost or [::1] with its port only' });
    const path = (request.url ?? '/').split('?')[0]!;
    const handler = request.method === 'GET' || request.method === 'HEAD' ? routes.get(path) : undefined;
    if (!handler) return sendJson(response, routes.has(path) ? 405 : 404, { error: routes.has(path) ? 'method not allowed' : 'not found' });
    Promise.resolve().then(() => handler(request, response)).catch((error: unknown) => {
      // The cause is logged, never sent: a body carries no internal detail (paths, SQL, addresses).
      onError(error);
      if (!response.headersSent) sendJson(response, 500, { error: 'internal error (see the agent\'s log)' });
      else response.destroy();
    });
  });
  // Slow or idle clients do not hold sockets: the agent's clients are local and quick.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.maxConnections = maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new TenantctlError(
      error.code === 'EADDRINUSE' ? 'conflict' : 'internal',
      error.code === 'EADDRINUSE' ? `127.0.0.1:${port} is in use: another agent (or program) listens there; set agent.port (TENANTCTL_AGENT_PORT)` : `the agent's server cannot listen on 127.0.0.1:${port}: ${error.message}`,
      { cause: error },
    )));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
