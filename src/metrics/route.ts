import type http from 'node:http';
import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { MetricsCollector } from './collect.js';
import { contentType } from './exposition.js';

/**
 * GET /metrics as a route of a server someone else runs (the agent's loopback server, src/agent/
 * routes.ts): one collector for the process, so the cached costly samples (docker stats, volume
 * sizes) are shared by every scrape, and scrapes arriving while one is collected share its answer.
 */
export function metricsRoute(ctx: Context, signal: AbortSignal, log?: (line: string) => void): (request: http.IncomingMessage, response: http.ServerResponse) => Promise<void> {
  const collector = new MetricsCollector(ctx, signal, log);
  let inFlight: Promise<string> | undefined;
  return async (request, response) => {
    inFlight ??= collector.collect().finally(() => {
      inFlight = undefined;
    });
    try {
      const text = await inFlight;
      response.writeHead(200, { 'content-type': contentType }).end(request.method === 'HEAD' ? undefined : text);
    } catch (error) {
      response.writeHead(500, { 'content-type': 'text/plain' }).end(`collecting metrics failed: ${messageOf(error)}\n`);
    }
  };
}
