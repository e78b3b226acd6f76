import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .addHelpText('after', `
Examples:
  $ tenantctl status acme
  $ tenantctl status acme --json
`)
    .action(async (id: string, _options, command: Command) => {
      const { status } = await import('../../tenants/status.js');
      const { renderStatus } = await import('../../tenants/render.js');
      await withContext(command, (ctx) => status(ctx, { id }), renderStatus, { tenantIds: [id] });
    });
}
