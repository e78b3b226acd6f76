import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .argument('[ids...]', 'tenant ids')
    .option('--all', 'every active tenant on this Docker host')
    .option('--host <name>', 'with --all: the tenants of this host of the fleet (default: this environment\'s; tenantctl hosts list)')
    .option('--keep <n>', 'afterwards keep only the newest n succeeded backups of each tenant (older folders are removed; in a repository: restic --keep-last n)')
    .option('--keep-daily <n>', 'repository retention: keep the last backup of each of the last n days (restic forget over the tenant\'s own snapshots, then prune)')
    .option('--keep-weekly <n>', 'repository retention: keep the last backup of each of the last n weeks')
    .option('--keep-monthly <n>', 'repository retention: keep the last backup of each of the last n months')
    .addHelpText('after', `
Examples:
  $ tenantctl backup acme
  $ tenantctl backup --all --keep 7 --json
  $ TENANTCTL_BACKUPS_DIR=/srv/backups tenantctl backup acme globex
  $ TENANTCTL_BACKUP_REPOSITORY=sftp:backup@vault:/srv/restic tenantctl backup acme --keep-daily 7 --keep-weekly 4

With backups.repository set (README: Backups to a repository), each file below streams straight
into the restic repository instead (restic backup --stdin, one snapshot per file, tagged
tenant=<id> and backup=<backup id>; nothing is copied to local disk), and a dump is read back from
the repository (restic dump | pg_restore --list) before the backup is recorded.

Writes <backupsDir>/<id>/<backup>/ (default backupsDir: <stateDir>/backups): one file per piece of
state the tenant's template declares (x-tenantctl.state), each a consistent snapshot taken while
the tenant runs: <piece>.dump (pg_dump -Fc in its own PostgreSQL container), <piece>.rdb (BGSAVE),
<piece>.sqlite (SQLite's online backup), <piece>.tar (a volume, its service stopped meanwhile);
crm: db.dump and redis.rdb. Then tenant.json (record, modules, API key hashes; no secrets) and
manifest.json (format tenantctl-backup/2: template, pieces, sizes, SHA-256). A backup is recorded
as succeeded only when every piece is checked (pg_restore --list reads a dump, SQLite's
integrity_check passes, an RDB starts with its magic, an archive has a tar header). A tenant whose template
declares no state is refused (exit 2); --all leaves such tenants out.
`)
    .action(async (ids: string[], options, command: Command) => {
      const { backupMany } = await import('../../backups/backup.js');
      const { renderBackup } = await import('../../backups/render.js');
      await withContext(command, (ctx) => backupMany(ctx, { ids, all: options.all === true, keep: options.keep, keepDaily: options.keepDaily, keepWeekly: options.keepWeekly, keepMonthly: options.keepMonthly }), renderBackup, { tenantIds: ids, hostName: options.host });
    });
}
