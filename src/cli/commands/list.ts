import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .option('--status <status>', 'only tenants in this status')
    .option('-a, --all', 'include deprovisioned tenants')
    .addHelpText('after', `
Examples:
  $ tenantctl list
  $ tenantctl list --status failed --json
`)
    .action(async (options, command: Command) => {
      const { list } = await import('../../tenants/list.js');
      const { renderList } = await import('../../tenants/render.js');
      await withContext(command, (ctx) => list(ctx, options), renderList);
    });
}
