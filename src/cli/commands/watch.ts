import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .option('--once', 'one watch pass and one delivery pass, then print what was seen')
    .option('--host <name>', 'watch that host of the fleet instead of this environment\'s')
    .addHelpText('after', `
Examples:
  $ tenantctl watch --once
  $ tenantctl watch --once --json
  $ tenantctl watch                 # in the foreground until Ctrl-C

Looks at every active tenant of the host (one container list per pass), records transitions
(ready -> degraded -> down -> recovered) as events (tenantctl events), raises alerts to the webhook
endpoints (tenantctl alerts), sends due deliveries, and restarts a stack that is down when its
plan says so (plans.<plan>.autoRestart). The agent runs the same loops; this runs them in the
foreground (watch.intervalSeconds, alerts.deliveryIntervalSeconds).
`)
    .action(async (options: { once?: boolean; host?: string }, command: Command) => {
      const { runWatch } = await import('../../watch/run.js');
      const { renderWatchRun } = await import('../../watch/render.js');
      await withContext(command, (ctx) => runWatch(ctx, { once: options.once }), renderWatchRun, { onInterrupt: 'end', hostName: options.host });
    });
}
