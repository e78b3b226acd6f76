import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'the tenant the backup was made of')
    .option('--from <backup>', 'a backup id (tenantctl backups) or a backup folder')
    .option('--to-time <timestamp>', 'point-in-time recovery (a plan with pitr): the tenant\'s PostgreSQL as it was at this ISO 8601 moment, e.g. 2026-12-06T11:30:00Z')
    .option('--as <new-id>', 'restore into a new tenant with this id (provisioned first, with its own passwords)')
    .option('-y, --yes', 'restoring over an active tenant\'s live data: do not ask (required without a terminal)')
    .option('--replace-kept-data', 'the tenant was deprovisioned with --keep-data: replace that kept data with the backup\'s')
    .addHelpText('after', `
Examples:
  $ tenantctl restore acme --from acme-20250131t090000z-3f9a --yes
  $ tenantctl restore acme --from /srv/backups/acme/acme-20250131t090000z-3f9a --as acme-copy
  $ tenantctl restore acme --from acme-20250131t090000z-3f9a --replace-kept-data
  $ tenantctl restore acme --to-time 2026-12-06T11:30:00Z --yes
  $ tenantctl restore acme --from acme-20261206t150000z-9c1d --yes     # a physical backup
  $ tenantctl restore acme --to-time 2026-12-06T11:30:00+01:00 --as acme-before

Every file is checked against its size and SHA-256 first: a corrupt or truncated backup is refused
(exit 2) with nothing changed. An active tenant is restored in place, after confirmation (--yes):
the dump goes into a scratch database while it runs, then app and worker stop, the databases are
swapped, Redis gets the snapshot, and the stack must become ready; what was replaced is kept until
then and put back on any failure (exit 7 if not ready). A deprovisioned tenant, or --as a new id,
is provisioned first (new passwords, a new initial API key; API keys are never restored). Kept data
(deprovision --keep-data) is replaced only with --replace-kept-data (exit 5 otherwise). A restore
killed half-way is finished or undone by the next command on the tenant.

--to-time (instead of --from; the tenant's plan must have pitr on): the newest base backup completed
before that moment and the WAL shipped since come from the repository, and PostgreSQL replays to it
(recovery_target_time), then promotes; the live data stays aside in its volume until the restored
tenant is proven ready. Only the PostgreSQL piece goes back in time; Redis keeps its present state.

A physical backup (backup --physical) given to --from goes back the same way: its cluster staged in
the data volume, the database service stopped, the volume's content swapped, the stack started and
proven ready. It replaces the whole PostgreSQL cluster, and the backup's other pieces (crm's Redis)
staged and swapped as a logical restore does, in the same operation; it needs the same PostgreSQL major version (exit 5 otherwise), and a plan without pitr. In
place the tenant must be active with its PostgreSQL running. Into a new tenant (--as, or the id of a
deprovisioned source) it needs nothing of the source: template, plan and profiles come from the
backup's tenant.json, and the backup's pieces must be the ones they give (exit 2 otherwise).
`)
    .action(async (id: string, options, command: Command) => {
      if (options.toTime !== undefined) {
        const { restoreToTime } = await import('../../pitr/restore-to-time.js');
        const { renderPitrRestore } = await import('../../pitr/render.js');
        const { askOnTerminal } = await import('../confirm.js');
        await withContext(command, (ctx) => thenSyncFrontdoor(ctx, async () => {
          if (options.from !== undefined || options.replaceKeptData) throw (await import('../../common/errors.js')).usageError('--to-time restores from the repository\'s base backups and WAL: it takes neither --from nor --replace-kept-data');
          return restoreToTime(ctx, { id, toTime: options.toTime, as: options.as, yes: options.yes === true, confirm: (question) => askOnTerminal(question, options.as ?? id) });
        }), renderPitrRestore, { tenantIds: [options.as ?? id] });
        return;
      }
      if (options.from === undefined) {
        const { usageError } = await import('../../common/errors.js');
        await withContext(command, async () => { throw usageError('restore needs --from <backup> (a backup id or folder) or --to-time <timestamp> (point-in-time recovery)'); }, () => '');
        return;
      }
      const { isPhysicalBackup, restorePhysical } = await import('../../pitr/restore-physical.js');
      const { restore } = await import('../../backups/restore.js');
      const { renderRestore } = await import('../../backups/render.js');
      const { askOnTerminal } = await import('../confirm.js');
      const { renderPhysicalRestore } = await import('../../pitr/render.js');
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, async () => {
        const confirm = (question: string) => askOnTerminal(question, options.as ?? id);
        // A physical backup (backup --physical) goes back by swapping the cluster (src/pitr/restore-physical.ts).
        if (typeof options.from === 'string' && await isPhysicalBackup(ctx, options.from)) {
          if (options.replaceKeptData) throw (await import('../../common/errors.js')).usageError('a physical backup restores into an active tenant, or into a new one (--as, or the id of a tenant deprovisioned without kept data): it takes no --replace-kept-data');
          return restorePhysical(ctx, { id, from: options.from, as: options.as, yes: options.yes === true, confirm });
        }
        return restore(ctx, { id, from: options.from, as: options.as, yes: options.yes === true, replaceKeptData: options.replaceKeptData === true, confirm });
      }), (r) => ('method' in r ? renderPhysicalRestore(r) : renderRestore(r)), { tenantIds: [options.as ?? id] });
    });
}
