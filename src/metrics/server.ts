import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { MetricsCollector } from './collect.js';
import { contentType } from './exposition.js';

// GET /metrics on a loopback address, for the agent (and `tenantctl metrics --serve`). Loopback
// only: the figures name every tenant; Prometheus on the same host scrapes it, or a tunnel does.

const loopback = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

export async function startMetricsServer({ ctx, host, port, signal }: { ctx: Context; host: string; port: number; signal: AbortSignal }): Promise<{ url: string; close(): Promise<void> }> {
  if (!loopback.test(host)) throw new TenantctlError('usage', `the metrics server listens on loopback only (127.0.0.1 or ::1), not ${host}`);
  const collector = new MetricsCollector(ctx, signal);
  // Scrapes arriving while one is collected share its answer.
  let inFlight: Promise<string> | undefined;
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    inFlight ??= collector.collect().finally(() => {
      inFlight = undefined;
    });
    inFlight.then(
      (text) => response.writeHead(200, { 'content-type': contentType }).end(request.method === 'HEAD' ? undefined : text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`collecting metrics failed: ${messageOf(error)}\n`),
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new TenantctlError(error.code === 'EADDRINUSE' ? 'conflict' : 'internal', `the metrics server cannot listen on ${host}:${port}: ${error.message}`, { cause: error })));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const close = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  signal.addEventListener('abort', () => void close(), { once: true });
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${shown}:${address.port}/metrics`, close };
}
