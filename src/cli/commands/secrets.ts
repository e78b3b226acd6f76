import type { Command } from 'commander';
import { withContext } from '../run.js';

// `tenantctl secrets <id>`: the one command whose job is to print passwords.

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .addHelpText('after', `
Examples:
  $ tenantctl secrets acme
  $ tenantctl secrets acme --json
  $ TENANTCTL_MASTER_KEY="$(cat backup/master.key)" tenantctl secrets acme

The master key is TENANTCTL_MASTER_KEY (64 hex characters, or base64 of 32 bytes), or else the key
file <stateDir>/master.key (TENANTCTL_MASTER_KEY_FILE). A key other than the one the admin database
was set up with is refused (exit 2); no secret is printed then.
`)
    .action(async (id: string, _options, command: Command) => {
      const { secrets } = await import('../../secrets/show.js');
      const { renderSecrets } = await import('../../secrets/render.js');
      await withContext(command, (ctx) => secrets(ctx, { id }), renderSecrets);
    });
}
