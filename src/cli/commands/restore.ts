import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'the tenant the backup was made of')
    .requiredOption('--from <backup>', 'a backup id (tenantctl backups) or a backup folder')
    .option('--as <new-id>', 'restore into a new tenant with this id (provisioned first, with its own passwords)')
    .addHelpText('after', `
Examples:
  $ tenantctl restore acme --from acme-20250131t090000z-3f9a
  $ tenantctl restore acme --from /srv/backups/acme/acme-20250131t090000z-3f9a --as acme-copy

Every file is checked against its size and SHA-256 first: a corrupt or truncated backup is refused
(exit 2) with nothing changed. An active tenant is restored in place: the dump goes into a scratch
database while it runs, then app and worker stop, the databases are swapped, Redis gets the
snapshot, and the stack must become ready (exit 7 otherwise). A deprovisioned tenant, or --as a new
id, is provisioned first (new passwords, a new initial API key; API keys are never restored).
`)
    .action(async (id: string, options, command: Command) => {
      const { restore } = await import('../../backups/restore.js');
      const { renderRestore } = await import('../../backups/render.js');
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => restore(ctx, { id, from: options.from, as: options.as })), renderRestore, { tenantIds: [id] });
    });
}
