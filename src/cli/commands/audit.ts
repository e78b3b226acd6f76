import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .argument('[id]', 'tenant id')
    .option('--since <when>', 'only entries from then on: an ISO date or date-time, or a duration back from now (30m, 2h, 7d, 1w)')
    .option('--limit <n>', 'at most this many entries (default 50)')
    .addHelpText('after', `
Examples:
  $ tenantctl audit
  $ tenantctl audit acme --since 7d
  $ tenantctl audit --since 2025-01-31T09:00Z --limit 200 --json

A date without a time is midnight UTC; a date-time without an offset is local time.
`)
    .action(async (id: string | undefined, options, command: Command) => {
      const { audit } = await import('../../audit/commands.js');
      const { renderAudit } = await import('../../audit/render.js');
      await withContext(command, (ctx) => audit(ctx, { id, since: options.since, limit: options.limit }), renderAudit);
    });
}
