import type { Command } from 'commander';
import { onTerminal, runChild } from './exec.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .argument('[redisArgs...]', 'arguments for redis-cli, after --')
    .addHelpText('after', `
Examples:
  $ tenantctl redis-cli acme
  $ tenantctl redis-cli acme -- PING
  $ tenantctl redis-cli acme -- --scan --pattern 'tenantctl:*'

redis-cli runs in the tenant's redis container; the password goes in through REDISCLI_AUTH in its
environment (never on a command line). Interactive on a terminal, piped otherwise; its exit code is
tenantctl's. The tenant must be active (exit 5 otherwise).
`)
    .action(async (id: string, redisArgs: string[], _options, command: Command) => {
      const { redisCli } = await import('../../tenants/exec.js');
      await runChild(command, id, (ctx) => redisCli(ctx, { id, args: redisArgs, tty: onTerminal() }));
    });
}
