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
    .option('--physical', 'a physical backup of the tenant\'s PostgreSQL cluster (its files; its other pieces as a logical backup takes them) into the repository (an unchanged cluster\'s files are not read again; Redis is a full BGSAVE every time); default: plans.<plan>.backupMethod')
    .option('--keep-monthly <n>', 'repository retention: keep the last backup of each of the last n months')
    .addHelpText('after', `
Examples:
  $ tenantctl backup acme
  $ tenantctl backup --all --keep 7 --json
  $ TENANTCTL_BACKUPS_DIR=/srv/backups tenantctl backup acme globex
  $ TENANTCTL_BACKUP_REPOSITORY=sftp:backup@vault:/srv/restic tenantctl backup acme --keep-daily 7 --keep-weekly 4
  $ tenantctl backup acme --physical --json

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

--physical (or plans.<plan>.backupMethod: physical; repository only): the tenant's whole PostgreSQL
cluster, file by file: between pg_backup_start and pg_backup_stop restic (in a helper container,
tenantctl/agent-base) backs the data directory's files up as <piece>.pgdata, skipping unread the
files unchanged since the last one, and backup_label with the backup's WAL goes in as
<piece>.pgwal.tar (read back and hashed). Only where that is safe (a local or sftp repository with
backups.sshKey and backups.sshKnownHosts, a local engine on Linux 6.13 or later, the helper image
present, no tablespaces): otherwise pg_basebackup -Ft -X fetch streamed as <piece>.pgdata.tar,
read whole each time, with a warning saying why.
The tenant's other pieces (crm's Redis, SQLite files, volumes) go into the same backup as a
logical backup takes them. It is refused (exit 2) for a tenant whose template has no postgres piece
or several, or whose plan has pitr; a plan's backupMethod physical backs those up logically with a warning. --keep and retention always
keep the newest logical backup. restore --from puts it back by replacing the whole cluster, and
only under the same PostgreSQL major version.

A tenant whose plan has point-in-time recovery (plans.<plan>.pitr) also gets a physical base backup
in the repository (pg_basebackup streamed into restic; "pitr" in --json), and its archived WAL shipped.
`)
    .action(async (ids: string[], options, command: Command) => {
      const { backupMany } = await import('../../backups/backup.js');
      const { renderBackup } = await import('../../backups/render.js');
      const { withPitrBases } = await import('../../pitr/backup.js');
      const { renderPitrBackups } = await import('../../pitr/render.js');
      await withContext(command, async (ctx) => withPitrBases(ctx, await backupMany(ctx, { ids, all: options.all === true, keep: options.keep, keepDaily: options.keepDaily, keepWeekly: options.keepWeekly, keepMonthly: options.keepMonthly, physical: options.physical === true })),
        (r) => [renderBackup(r), ...renderPitrBackups(r)].join('\n'),
        { tenantIds: ids, hostName: options.host });
    });
}
