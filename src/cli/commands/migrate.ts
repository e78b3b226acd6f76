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

Applies the tenant's template's migrations/ (crm: init-db.sql, then NNN_what.sql in name order)
that its database has not recorded yet, each in its own transaction, to the template's
x-tenantctl.migrations target (crm: the tenant database as tenant_owner). A file changed after it
was applied is refused (exit 2) and named; nothing is applied then. Provision applies them too.
A tenant whose template has no migrations is refused (exit 2); --all leaves such tenants out.
`)
    .action(async (ids: string[], options, command: Command) => {
      const { migrateMany } = await import('../../tenants/migrate.js');
      const { renderMigrate } = await import('../../tenants/migrate-render.js');
      await withContext(command, (ctx) => migrateMany(ctx, { ids, all: options.all === true, dryRun: options.dryRun === true }), renderMigrate, { tenantIds: ids, hostName: options.host });
    });
}
