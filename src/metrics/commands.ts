import type { Context } from '../context.js';
import { usageError } from '../common/errors.js';
import { MetricsCollector } from './collect.js';
import { startMetricsServer } from './server.js';

// `tenantctl metrics`: the exposition once (for debugging), or --serve: the /metrics server in the
// foreground until Ctrl-C (what the agent runs, for hosts without it and for tests).

export async function metricsOnce(ctx: Context): Promise<{ exposition: string }> {
  return { exposition: await new MetricsCollector(ctx, ctx.signal).collect() };
}

export async function serveMetrics(ctx: Context, input: { port?: string }): Promise<{ url: string; servedUntil: string }> {
  const port = input.port === undefined ? ctx.config.metrics.port : Number(input.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(`--port ${JSON.stringify(input.port)}: expected a port number (0: any free port)`);
  const host = '127.0.0.1';
  const server = await startMetricsServer({ ctx, host, port, signal: ctx.signal });
  ctx.reporter.info(`serving ${server.url} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve(), { once: true })));
  await server.close();
  return { url: server.url, servedUntil: new Date(ctx.clock.now()).toISOString() };
}
