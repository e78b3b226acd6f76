import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .option('--reason <text>', 'why (required; one line, at most 200 characters): internal, shown to operators, in the audit log and in the 401 to the tenant\'s own API keys, never to visitors')
    .option('--public-message <text>', 'what the page tells every visitor (one line, at most 200 characters; escaped); without it a generic page')
    .addHelpText('after', `
Examples:
  $ tenantctl suspend acme --reason "invoice 2026-11 unpaid"
  $ tenantctl suspend acme --reason "abuse report #4411" --json
  $ tenantctl suspend acme --reason "invoice 2026-11 unpaid" --public-message "Suspended for billing: contact billing@example.com"

Suspension is not deletion. Its stack is stopped first (compose stop, or its services scaled to 0
on a swarm), then the tenant is recorded as suspended (reason, message, since when, by whom;
audited) and the front door answers its host names with a generic 503 page (or --public-message)
and API calls made with its own keys with a 401 naming the suspension and its reason, never
reaching the app; other callers get the usual 401. Its containers, volumes, secrets, API keys,
ports and subnet stay. tenantctl resume brings it back. An active or stopped tenant can be suspended;
suspending a suspended one only makes sure its stack is stopped (exit 0). While suspended, start,
restart, upgrade, restore, move, rotate-secrets, exec, psql and redis-cli refuse (exit 5, naming
the reason); backup, deprovision, status, list, logs, keys and modules work.
Journaled: interrupted (Ctrl-C, kill) before its stack stopped it is undone (the stack started
again), after it the next command on the tenant finishes it. Reason and message refuse control and
invisible format characters (bidi overrides, zero-width): exit 2.
`)
    .action(async (id: string, options, command: Command) => {
      const { suspendTenant } = await import('../../suspension/suspend.js');
      const { renderSuspend } = await import('../../suspension/render.js');
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => suspendTenant(ctx, { id, reason: options.reason, publicMessage: options.publicMessage })), renderSuspend, { tenantIds: [id] });
    });
}
