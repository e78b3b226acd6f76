import http from 'node:http';
import { TenantctlError, messageOf } from '../common/errors.js';

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

export function startServer(routes: RouteTable, port: number): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    const handler = request.method === 'GET' || request.method === 'HEAD' ? routes.get(path) : undefined;
    if (!handler) return sendJson(response, routes.has(path) ? 405 : 404, { error: routes.has(path) ? 'method not allowed' : 'not found' });
    Promise.resolve(handler(request, response)).catch((error) => {
      if (!response.headersSent) sendJson(response, 500, { error: messageOf(error) });
      else response.destroy();
    });
  });
  // Slow or idle clients do not hold sockets: the agent's clients are local and quick.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new TenantctlError(
      error.code === 'EADDRINUSE' ? 'conflict' : 'internal',
      error.code === 'EADDRINUSE' ? `127.0.0.1:${port} is in use: another agent (or program) listens there; set agent.port (TENANTCTL_AGENT_PORT)` : `the agent's server cannot listen on 127.0.0.1:${port}: ${error.message}`,
      { cause: error },
    )));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
