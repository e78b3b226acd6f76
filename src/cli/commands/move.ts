import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .requiredOption('--to <host>', 'the Docker host of the fleet to move it to (tenantctl hosts list)')
    .addHelpText('after', `
Examples:
  $ tenantctl move acme --to web2
  $ tenantctl move acme --to web2 --json

Stops the tenant's services that write (all but those holding its PostgreSQL and Redis state;
crm: app and worker), backs it up on its host,
restores it on the target (same id, new passwords, same data, modules and API keys), waits until
it is ready there, brings the front door in step, then removes it from the source. Its API is
unavailable (503 at the front door) from the backup until the target is ready. Until then nothing
of the source is removed: any failure starts the stopped services again and leaves the tenant on
the source, working, and the message names the first cause. A move interrupted half-way (a
crash, kill -9) is finished or undone by running it again; a second move while one runs exits 5.
A tenant whose template declares no state (x-tenantctl.state) is refused (exit 2); two names for
one engine are refused (exit 2).
The target must be active (not drained) and both hosts must answer (else exit 6).
`)
    .action(async (id: string, options, command: Command) => {
      const { move } = await import('../../hosts/move.js');
      const { renderMove } = await import('../../hosts/render.js');
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => move(ctx, { id, to: options.to })), renderMove);
    });
}
