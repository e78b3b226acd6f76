import { Option, type Command } from 'commander';
import { onTerminal, runChild } from './exec.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .argument('[psqlArgs...]', 'arguments for psql, after --')
    .addOption(new Option('--as <role>', 'connect as the owner (tenant_owner) or as the app (tenant_app, row-level security applies)').choices(['owner', 'app']).default('owner'))
    .addHelpText('after', `
Examples:
  $ tenantctl psql acme
  $ tenantctl psql acme --as app
  $ echo 'select count(*) from contacts' | tenantctl psql acme
  $ tenantctl psql acme -- -At -c 'select version()'

psql runs in the tenant's db container and logs in over TCP with the role's password, which is
passed through the environment (never on a command line). Interactive on a terminal, piped
otherwise; psql's exit code is tenantctl's (1 for an error, 3 for a failed script with
ON_ERROR_STOP). The tenant must be active (exit 5 otherwise).
`)
    .action(async (id: string, psqlArgs: string[], options: { as: string }, command: Command) => {
      const { psql } = await import('../../tenants/exec.js');
      await runChild(command, id, (ctx) => psql(ctx, { id, as: options.as, args: psqlArgs, tty: onTerminal() }));
    });
}
