import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .option('--repository <url>', 'the backup repository (default: TENANTCTL_BACKUP_REPOSITORY)')
    .option('--password-file <file>', 'a file (mode 0600) holding the repository\'s password (default: TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE)')
    .option('--host <name>', 'bring every tenant back onto this Docker host (default: the host its record names when it answers, else this environment\'s)')
    .option('--concurrency <n>', 'tenants recovered at once (default: 2)')
    .option('--snapshot <id>', 'the admin snapshot to restore (default: the newest kind=admin snapshot)')
    .addHelpText('after', `
Examples:
  $ export TENANTCTL_MASTER_KEY="$(cat /secure/master.key)"
  $ tenantctl recover --repository sftp:backup@vault:/repo --password-file ./repo.pass
  $ tenantctl recover --repository /mnt/repo --password-file ./repo.pass --host web2 --json

On a new machine (no admin database, or an empty one): restores the newest admin snapshot into
the local admin database, checks that the master key (TENANTCTL_MASTER_KEY, or its file) opens
it, then brings back every tenant that was active, stopped or suspended, each from its newest
complete backup that reads back whole from the repository (also one taken after the admin
snapshot: the summary says which source and how much newer), proven ready and put back in its
status (stopped and suspended ones stopped), then the
front door if the lost machine had one. Prints what came back and what did not, and why.
Journaled: killed half-way and run again, it goes on where it stopped; no tenant is made twice.
Exit 2: no repository, password file or master key, or a wrong one; admin snapshots of several
hosts (or one dated in the future) and no --snapshot; 3: no admin snapshot;
5: the admin database is not empty and no recovery is under way in it, or another recover runs;
6: Docker failed; 13: restic failed; 8: the admin restore failed or the snapshot was refused (a psql
meta-command, COMMIT, PROGRAM, roles… in it, or cut off): nothing of it committed;
9: some tenants (or the front door) did not come back (the summary says which and why).
`)
    .action(async (options, command: Command) => {
      const { recover } = await import('../../recover/recover.js');
      const { renderRecover } = await import('../../recover/render.js');
      await withContext(command, (ctx) => recover(ctx, { repository: options.repository, passwordFile: options.passwordFile, host: options.host, snapshot: options.snapshot, concurrency: options.concurrency }), renderRecover, { adminConnections: 12 });
    });
}
