import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .option('--due', 'only the tenants the policy would deprovision now')
    .addHelpText('after', `
Examples:
  $ tenantctl suspended
  $ tenantctl suspended --due --json

Lists suspended tenants with their reason, who suspended them, the whole days since, and when the
policy (suspension.deprovisionAfterDays, off by default) would deprovision them, keeping their data
(what that removes: README, "Suspension"). It decides nothing by itself and changes nothing; the
JSON lists the ids due now (due) and within the next day (warn).
`)
    .action(async (options, command: Command) => {
      const { listSuspended } = await import('../../suspension/suspended.js');
      const { renderSuspended } = await import('../../suspension/render.js');
      await withContext(command, (ctx) => listSuspended(ctx, { due: options.due === true }), renderSuspended, { readOnly: true });
    });
}
