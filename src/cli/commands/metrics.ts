import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .option('--serve', 'serve GET /metrics on 127.0.0.1 until Ctrl-C instead of printing once')
    .option('--port <n>', 'with --serve: the port (default metrics.port, 9464; 0: any free port)')
    .addHelpText('after', `
Examples:
  $ tenantctl metrics
  $ tenantctl metrics --serve --port 9464

Prints the Prometheus exposition once (for debugging; --json wraps it in {"exposition": ...}), or
serves it on loopback as the agent does. The README lists every metric.
`)
    .action(async (options: { serve?: boolean; port?: string }, command: Command) => {
      const metrics = await import('../../metrics/commands.js');
      if (options.serve) {
        await withContext(command, (ctx) => metrics.serveMetrics(ctx, { port: options.port }), (r) => `stopped serving ${r.url}`, { onInterrupt: 'end' });
        return;
      }
      if (options.port !== undefined) {
        const { usageError } = await import('../../common/errors.js');
        throw usageError('--port goes with --serve');
      }
      await withContext(command, (ctx) => metrics.metricsOnce(ctx), (r) => r.exposition.trimEnd(), { readOnly: true });
    });
}
