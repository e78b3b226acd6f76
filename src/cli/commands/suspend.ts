import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .option('--reason <text>', 'why (required; one line, at most 200 characters): shown on the tenant\'s page, in the API\'s 401 and in the audit log')
    .addHelpText('after', `
Examples:
  $ tenantctl suspend acme --reason "invoice 2026-11 unpaid"
  $ tenantctl suspend acme --reason "abuse report #4411" --json

Suspension is not deletion. The tenant is recorded as suspended (reason, since when, by whom;
audited), the front door answers its host names with a 503 page giving the reason and keyed API
calls with a 401 naming the suspension, never reaching the app; then its stack is stopped (compose
stop, or its services scaled to 0 on a swarm). Its containers, volumes, secrets, API keys, ports
and subnet stay. tenantctl resume brings it back. An active or stopped tenant can be suspended;
suspending a suspended one only makes sure its stack is stopped (exit 0). While suspended, start,
restart, upgrade, restore, move, rotate-secrets, exec, psql and redis-cli refuse (exit 5, naming
the reason); backup, deprovision, status, list, logs, keys and modules work.
Journaled: interrupted (Ctrl-C, kill) before the row says suspended it is undone, after it the
next command on the tenant finishes it.
`)
    .action(async (id: string, options, command: Command) => {
      const { suspendTenant } = await import('../../suspension/suspend.js');
      const { renderSuspend } = await import('../../suspension/render.js');
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => suspendTenant(ctx, { id, reason: options.reason })), renderSuspend, { tenantIds: [id] });
    });
}
