import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .argument('[id]', 'tenant id')
    .option('--since <when>', 'only events from then on: an ISO date or date-time, or a duration back from now (30m, 2h, 7d, 1w)')
    .option('--limit <n>', 'at most this many events (default 50)')
    .addHelpText('after', `
Examples:
  $ tenantctl events
  $ tenantctl events acme --since 2h
  $ tenantctl events --since 2026-12-01 --limit 500 --json

Events are what the watch (tenantctl watch, or the agent) saw: tenant.degraded, tenant.down,
tenant.recovered, tenant.restarted / tenant.restart-failed (automatic restarts), host.unreachable
and host.reachable; the agents' heartbeats saw: host.agent-silent and host.agent-back; and the
agent's WAL lag check saw (plans with pitr): pitr.lagging and pitr.caught-up; newest first.
`)
    .action(async (id: string | undefined, options, command: Command) => {
      const { events } = await import('../../watch/events.js');
      const { renderEvents } = await import('../../watch/render.js');
      await withContext(command, (ctx) => events(ctx, { id, since: options.since, limit: options.limit }), renderEvents);
    });
}
