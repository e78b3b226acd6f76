import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .argument('[id]', 'only this tenant\'s backups')
    .option('-a, --all', 'include backups removed by --keep (pruned)')
    .addHelpText('after', `
Examples:
  $ tenantctl backups
  $ tenantctl backups acme --json

States: running (its process beats every 5 s), stale (running, but no heartbeat for 60 s: its
process is gone), succeeded, failed (with the reason), pruned (removed by backup --keep).
`)
    .action(async (id: string | undefined, options, command: Command) => {
      const { listBackups } = await import('../../backups/list.js');
      const { renderBackups } = await import('../../backups/render.js');
      await withContext(command, (ctx) => listBackups(ctx, { id, all: options.all === true }), renderBackups);
    });
}
