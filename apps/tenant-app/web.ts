// MODE=web: the tenant's HTTP API on plain node:http.
//   GET /            tenant identity
//   GET /api/health  real checks of PostgreSQL (SELECT 1) and Redis (PING); 200 or 503
//   GET /api/ready   200 only when both answer; 503 otherwise
//   GET /api/ping    200 without asking PostgreSQL or Redis: for what sits in front of the app
//                    (a load balancer's liveness, the front door's benchmark)
//   GET /api/ws      WebSocket echo naming the tenant (websocket.ts)
import http from 'node:http';
import type { AppEnv } from './env.js';
import { checkDb, checkRedis, shortMessage, type Deps } from './deps.js';
import { log } from './log.js';
import { acceptWebSockets, closeWebSockets } from './websocket.js';

type Part = 'ok' | `error: ${string}`;

interface Checks {
  db: Part;
  redis: Part;
}

async function part(check: () => Promise<void>): Promise<Part> {
  try {
    await check();
    return 'ok';
  } catch (error) {
    return `error: ${shortMessage(error)}`;
  }
}

function send(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : payload);
}

/** The headers a front door sets, as this request carries them (null: absent). */
function doorHeaders(customer: string, req: http.IncomingMessage): Record<string, unknown> {
  const names = ['x-api-key-id', 'x-real-ip', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-request-id',
    'x-forwarded-scheme', 'forwarded', 'x-forwarded-prefix', 'x-forwarded-ssl', 'x-original-url', 'x-rewrite-url', 'true-client-ip', 'x-client-ip'];
  return { customer, headers: Object.fromEntries(names.map((name) => [name, req.headers[name] ?? null])) };
}

export function createWebServer(config: AppEnv, deps: Deps): http.Server {
  // Concurrent health and readiness requests share one round of checks, so a burst of probes
  // costs one SELECT 1 and one PING, not one each.
  let inFlight: Promise<Checks> | undefined;
  const runChecks = (): Promise<Checks> => {
    inFlight ??= Promise.all([part(() => checkDb(deps)), part(() => checkRedis(deps))])
      .then(([db, redis]) => ({ db, redis }))
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  const routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void> = {
    '/': (req, res) => {
      send(req, res, 200, { customer: config.tenantId, name: config.tenantName, plan: config.tenantPlan });
    },
    '/api/health': async (req, res) => {
      const { db, redis } = await runChecks();
      const ok = db === 'ok' && redis === 'ok';
      send(req, res, ok ? 200 : 503, {
        status: ok ? 'ok' : 'degraded',
        customer: config.tenantId,
        uptime: Math.floor(process.uptime()),
        db,
        redis,
      });
    },
    '/api/ping': (req, res) => {
      send(req, res, 200, { pong: true, customer: config.tenantId });
    },
    // What the front door told the app about this request, as the app received it: the API key's
    // id (only after the door checked a key), the client's address, the request id. For operators
    // checking what reaches an app, and for the e2e test that sends spoofed values of them.
    '/whoami': (req, res) => {
      send(req, res, 200, doorHeaders(config.tenantId, req));
    },
    '/api/whoami': (req, res) => {
      send(req, res, 200, doorHeaders(config.tenantId, req));
    },
    '/api/ready': async (req, res) => {
      const { db, redis } = await runChecks();
      if (db === 'ok' && redis === 'ok') send(req, res, 200, { ready: true });
      else send(req, res, 503, { ready: false, db, redis });
    },
  };

  const server = http.createServer((req, res) => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      send(req, res, 400, { error: 'bad request' });
      return;
    }
    const route = Object.hasOwn(routes, pathname) ? routes[pathname] : undefined;
    if (!route) {
      send(req, res, 404, { error: 'not found', path: pathname });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
      return;
    }
    Promise.resolve(route(req, res)).catch((error: unknown) => {
      log.error('request failed', { path: pathname, error: shortMessage(error) });
      if (!res.headersSent) send(req, res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  // Shorter than typical proxy keep-alives would be wrong here; Node's defaults are fine, but
  // headers must arrive promptly so slow clients cannot hold sockets open.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  acceptWebSockets(server, config);
  return server;
}

export function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops accepting connections and waits (bounded) for in-flight requests to finish. */
export async function closeServer(server: http.Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  closeWebSockets(server);
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}
