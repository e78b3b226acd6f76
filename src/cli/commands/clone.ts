import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'the running tenant to copy')
    .requiredOption('--as <new-id>', 'the id of the new tenant (must be free)')
    .option('--name <name>', 'the new tenant\'s display name (default: its id)')
    .addHelpText('after', `
Examples:
  $ tenantctl clone acme --as acme-staging
  $ tenantctl clone shop --as shop-demo --name "Shop demo" --json

A fresh backup of <id> (kept, listed by tenantctl backups), restored as <new-id>: provisioned
first from the same template and profiles, with its own passwords, ports, subnet, hostname and
initial API key (shown once; API keys are never copied), then every piece of state replaced with
the backup's and proven ready. Any template that declares its state can be cloned (else exit 2).
<new-id> taken is exit 5, nothing made. A clone interrupted during its restore is undone by the
next command on <new-id>; the backup stays.
`)
    .action(async (id: string, options, command: Command) => {
      const { cloneTenant } = await import('../../backups/clone.js');
      const { renderClone } = await import('../../backups/render.js');
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => cloneTenant(ctx, { id, as: options.as, name: options.name })), renderClone, { tenantIds: [id, options.as] });
    });
}
