import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .addHelpText('after', `
Examples:
  $ tenantctl resume acme
  $ tenantctl resume acme --json

Starts a suspended tenant's stack and waits until it is ready, as provision does (exit 7 if not in
time); only then is it recorded active (audited, the suspension cleared) and the front door routes
it to its app again, with the same data, keys and ports. Resuming an active tenant changes nothing
(exit 0); any other status is exit 5. Journaled: a run that fails or is interrupted before the
tenant is proven ready stops its stack again and it stays suspended (run resume again).
`)
    .action(async (id: string, _options, command: Command) => {
      const { resumeTenant } = await import('../../suspension/resume.js');
      const { renderResume } = await import('../../suspension/render.js');
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => resumeTenant(ctx, { id })), renderResume, { tenantIds: [id] });
    });
}
