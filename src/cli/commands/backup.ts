import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .argument('[ids...]', 'tenant ids')
    .option('--all', 'every active tenant on this Docker host')
    .option('--host <name>', 'with --all: the tenants of this host of the fleet (default: this environment\'s; tenantctl hosts list)')
    .option('--keep <n>', 'afterwards keep only the newest n succeeded backups of each tenant (older folders are removed)')
    .addHelpText('after', `
Examples:
  $ tenantctl backup acme
  $ tenantctl backup --all --keep 7 --json
  $ TENANTCTL_BACKUPS_DIR=/srv/backups tenantctl backup acme globex

Writes <backupsDir>/<id>/<backup>/ (default backupsDir: <stateDir>/backups): db.dump (pg_dump -Fc,
one consistent snapshot while the tenant runs, made in its own db container), redis.rdb (BGSAVE),
tenant.json (record, modules, API key hashes; no secrets) and manifest.json (sizes, SHA-256).
A backup is recorded as succeeded only when the dump is non-trivial and pg_restore --list reads it.
`)
    .action(async (ids: string[], options, command: Command) => {
      const { backupMany } = await import('../../backups/backup.js');
      const { renderBackup } = await import('../../backups/render.js');
      await withContext(command, (ctx) => backupMany(ctx, { ids, all: options.all === true, keep: options.keep }), renderBackup, { tenantIds: ids, hostName: options.host });
    });
}
