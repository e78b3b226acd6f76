import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .option('--repository <url>', 'the backup repository: a local path, sftp:user@host:/path, s3:... (default: TENANTCTL_BACKUP_REPOSITORY)')
    .option('--password-file <file>', 'a file (mode 0600) holding the repository\'s password (default: TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE)')
    .addHelpText('after', `
Examples:
  $ tenantctl admin-backup --repository /srv/backups/repo --password-file ~/.config/tenantctl/repo.pass
  $ TENANTCTL_BACKUP_REPOSITORY=sftp:backup@vault:/repo tenantctl admin-backup --json

Dumps the local admin database (registry, sealed secrets, API key hashes, usage, audit, settings,
schedules, the journal) with pg_dump in its own container and streams it into the repository as one
restic snapshot (file tenantctl-admin.sql, tags kind=admin and frontdoor=<tls> when this machine's
front door serves); nothing is written to local disk. The master key is never in it: keep it apart
(a password manager): tenantctl recover needs it. restic gets the repository and the password file
through its environment, never its command line. The agent runs it on agent.adminBackupSchedule.
Exit 2: no repository or password file, a password file others may read, or a wrong password;
3: no repository there; 5: the repository is locked; 6: docker failed; 8: pg_dump failed; 13: restic failed.
`)
    .action(async (options, command: Command) => {
      const { adminBackup } = await import('../../recover/admin-backup.js');
      const { repositoryFor } = await import('../../recover/access.js');
      const { renderAdminBackup } = await import('../../recover/render.js');
      await withContext(command, async (ctx) => adminBackup(ctx, await repositoryFor(ctx, { repository: options.repository, passwordFile: options.passwordFile }, { adminDbAllowed: true })), renderAdminBackup);
    });
}
