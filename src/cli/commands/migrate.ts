import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .argument('[ids...]', 'tenant ids')
    .option('--all', 'every active tenant on this Docker host')
    .option('--host <name>', 'with --all: the tenants of this host of the fleet (default: this environment\'s; tenantctl hosts list)')
    .option('--dry-run', 'list the migrations each tenant would get; apply nothing')
    .addHelpText('after', `
Examples:
  $ tenantctl migrate acme
  $ tenantctl migrate --all --dry-run
  $ tenantctl migrate --all --json

Applies scripts/tenant-migrations/ (init-db.sql, then NNN_what.sql in name order) that the tenant's
database has not recorded yet, each in its own transaction, as tenant_owner. A file changed after it
was applied is refused (exit 2) and named; nothing is applied then. Provision applies them too.
`)
    .action(async (ids: string[], options, command: Command) => {
      const { migrateMany } = await import('../../tenants/migrate.js');
      const { renderMigrate } = await import('../../tenants/migrate-render.js');
      await withContext(command, (ctx) => migrateMany(ctx, { ids, all: options.all === true, dryRun: options.dryRun === true }), renderMigrate, { tenantIds: ids, hostName: options.host });
    });
}
