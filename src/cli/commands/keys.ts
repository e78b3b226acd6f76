import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  const keys = command
    .addHelpText('after', `
Examples:
  $ tenantctl keys create acme --name ci
  $ tenantctl keys list acme
  $ tenantctl keys revoke acme 3f1c2b7e-0d4a-4c1e-9a51-6b7f0e2d9c88
`);

  keys
    .command('create')
    .description('create an API key and print it once: only its SHA-256 is stored')
    .argument('<id>', 'tenant id')
    .option('-n, --name <name>', 'what the key is for (default: "default")')
    .addHelpText('after', `
Examples:
  $ tenantctl keys create acme --name "billing export"
  $ tenantctl keys create acme --name ci --json | jq -r .key

The key cannot be shown again; if it is lost, revoke it and create another.
`)
    .action(async (id: string, options, command: Command) => {
      const { keysCreate } = await import('../../api-keys/commands.js');
      const { renderKeyCreated } = await import('../../api-keys/render.js');
      await withContext(command, (ctx) => keysCreate(ctx, { id, name: options.name }), renderKeyCreated);
    });

  keys
    .command('list')
    .description('list a tenant\'s API keys (id, prefix, name, status), revoked ones included; never the keys')
    .argument('<id>', 'tenant id')
    .addHelpText('after', `
Examples:
  $ tenantctl keys list acme
  $ tenantctl keys list acme --json
`)
    .action(async (id: string, _options, command: Command) => {
      const { keysList } = await import('../../api-keys/commands.js');
      const { renderKeys } = await import('../../api-keys/render.js');
      await withContext(command, (ctx) => keysList(ctx, { id }), renderKeys);
    });

  keys
    .command('revoke')
    .description('revoke one of a tenant\'s API keys (audited; revoking a revoked key changes nothing)')
    .argument('<id>', 'tenant id')
    .argument('<keyId>', 'key id, as shown by `tenantctl keys list`')
    .addHelpText('after', `
Examples:
  $ tenantctl keys revoke acme 3f1c2b7e-0d4a-4c1e-9a51-6b7f0e2d9c88
  $ tenantctl keys revoke acme 3f1c2b7e-0d4a-4c1e-9a51-6b7f0e2d9c88 --json

A key id that is not the tenant's is refused with exit 3.
`)
    .action(async (id: string, keyId: string, _options, command: Command) => {
      const { keysRevoke } = await import('../../api-keys/commands.js');
      const { renderKeyRevoked } = await import('../../api-keys/render.js');
      await withContext(command, (ctx) => keysRevoke(ctx, { id, keyId }), renderKeyRevoked);
    });
}
