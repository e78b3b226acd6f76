import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .option('--only <secret>', 'rotate only these secrets of the tenant\'s template, by name (crm: DB_PASSWORD, APP_DB_PASSWORD, REDIS_PASSWORD, JWT_SECRET; also db, app-db, redis, jwt); comma-separated')
    .addHelpText('after', `
Examples:
  $ tenantctl rotate-secrets acme
  $ tenantctl rotate-secrets acme --only redis --json
  $ tenantctl rotate-secrets shop --only DB_PASSWORD,REDIS_HTTP_TOKEN

Works for any template: each secret's x-tenantctl "applies" says where a server holds it. New
values are applied in the running PostgreSQL (ALTER ROLE) and Redis (CONFIG SET requirepass)
first, then written to the tenant's files and the sealed copy in the admin database; only the
services that mount a changed secret are recreated (crm: app and worker; Redis too for its
password), and readiness is proven with the new values, every changed PostgreSQL role logging in. On any failure the old values are put back
everywhere and proven to work; the exit code is the failure's. Values are never printed
(tenantctl secrets shows them) and the audit log names the secrets only.
`)
    .action(async (id: string, options, command: Command) => {
      const { rotateSecrets } = await import('../../secrets/rotate.js');
      const { renderRotate } = await import('../../secrets/rotate-render.js');
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => rotateSecrets(ctx, { id, only: options.only })), renderRotate, { tenantIds: [id] });
    });
}
