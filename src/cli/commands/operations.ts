import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .argument('[id]', 'tenant id')
    .option('-a, --all', 'finished operations too (completed, undone, failed), newest first')
    .addHelpText('after', `
Examples:
  $ tenantctl operations
  $ tenantctl operations acme --all --json
  $ tenantctl operations abandon acme --reason "host web2 is gone for good"

Every multi-step verb (restore, move, rotate-secrets, upgrade, backup --keep, doctor --fix) records
its intent and each step here. An unfinished one is "in flight" while a tenantctl runs it, else
"interrupted": the next command on the tenant settles it (finishes or undoes it from its step).
`)
    .action(async (id: string | undefined, options, command: Command) => {
      const { listOperations } = await import('../../operations/commands.js');
      const { renderOperations } = await import('../../operations/render.js');
      await withContext(command, (ctx) => listOperations(ctx, { id, all: options.all === true }), renderOperations);
    });

  command
    .command('abandon')
    .description('close a tenant\'s unfinished operation as failed, without settling it: its effects stay as they are')
    .argument('<id>', 'tenant id')
    .option('--reason <text>', 'why (required; audited)')
    .addHelpText('after', `
Examples:
  $ tenantctl operations abandon acme --reason "its source host burned down; acme runs on web3"

For an operation that cannot be settled (a host gone for good, a backup it needs deleted): commands
on the tenant then run again. Nothing is finished or undone: check the tenant (tenantctl status,
tenantctl doctor) and repair by hand what the operation left. Exit 3 when there is none, 5 while a
tenantctl runs it.
`)
    .action(async (id: string, options, sub: Command) => {
      const { abandonOperation } = await import('../../operations/commands.js');
      const { renderAbandoned } = await import('../../operations/render.js');
      await withContext(sub, (ctx) => abandonOperation(ctx, { id, reason: options.reason }), renderAbandoned);
    });
}
