import type { Command } from 'commander';
import { withContext } from '../run.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .option('-s, --service <name>', 'only this service (app, worker, db, redis); repeatable', collect, [])
    .option('-f, --follow', 'keep streaming new lines until Ctrl-C')
    .option('--since <when>', 'only lines since then: a duration back from now (30s, 10m, 2h, 7d) or an ISO date or date-time')
    .option('-n, --tail <n>', 'only the last n lines of each container ("all" for everything)')
    .option('-t, --timestamps', 'prefix each line with its time')
    .addHelpText('after', `
Examples:
  $ tenantctl logs acme
  $ tenantctl logs acme --service app --follow
  $ tenantctl logs acme --since 10m --tail 100 --timestamps
  $ tenantctl logs acme -s worker -f | grep -i error

Streams compose's logs to stdout as they come (nothing is buffered). Ctrl-C ends a followed stream
with exit 0. --follow ends by itself when every container of the tenant has stopped; run it again
after a restart. --since needs compose v2. An unknown service is exit 2, an unknown tenant exit 3.
`)
    .action(async (id: string, options, command: Command) => {
      const { logs } = await import('../../tenants/logs.js');
      await withContext(
        command,
        (ctx) => logs(ctx, { id, services: options.service, follow: options.follow, since: options.since, tail: options.tail, timestamps: options.timestamps }),
        null,
        { onInterrupt: 'end', tenantIds: [id], readOnly: true },
      );
    });
}
