import type { Command } from 'commander';
import { withContext } from '../run.js';
import { TenantctlError } from '../../common/errors.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .option('--disk', 'measure what its volumes hold even when its plan has no disk quota (about a second: a helper container runs du)')
    .addHelpText('after', `
Examples:
  $ tenantctl status acme
  $ tenantctl status acme --json
  $ tenantctl status acme --quiet && echo healthy

Exit 0 only when the tenant is active, every container runs (none unhealthy) and no operation is
in flight; 7 when it is active but a container is not running or unhealthy; 5 for any other status
or an unfinished operation (a suspended tenant is 5); 3 when it is deprovisioned or unknown. The
record is printed either way, with "disk": what its volumes hold (one du in a helper container,
about a second) against its plan's quota (plans.<plan>.diskQuota), and "over" when above it;
measured only when its plan has a quota, or with --disk. A tenant whose plan has point-in-time
recovery (plans.<plan>.pitr) also shows "archive": the newest WAL segment shipped to the repository
and how long ago PostgreSQL archived it (lagSeconds), and the segments waiting in its archive volume.

  $ tenantctl status acme --disk --json | jq .disk
`)
    .action(async (id: string, options, command: Command) => {
      const { status, statusExit } = await import('../../tenants/status.js');
      const { renderStatus } = await import('../../tenants/render.js');
      const { tenantDisk } = await import('../../quota/disk-quota.js');
      const { renderDisk } = await import('../../quota/render.js');
      const { renderArchiveStatus } = await import('../../pitr/render.js');
      let verdict: ReturnType<typeof statusExit>;
      await withContext(command, async (ctx) => {
        const result = await status(ctx, { id });
        verdict = statusExit(result);
        // Its volumes against its plan's disk quota, measured when there is one (or --disk): a helper
        // container costs about a second, which scripts polling status should not pay for nothing.
        // Measuring never fails status (disk.error says why not).
        const disk = await tenantDisk(ctx, result.tenant, { always: options.disk === true });
        // A plan with point-in-time recovery: the archive lag (the age of the newest shipped WAL
        // segment, and segments waiting in the archive volume). Never fails status.
        const { pitrArchiveOf } = await import('../../pitr/status.js');
        return { ...result, disk, archive: await pitrArchiveOf(ctx, result.tenant) };
      }, (r) => `${renderStatus(r)}\n${renderDisk(r.disk)}${r.archive ? `\n${renderArchiveStatus(r.archive)}` : ''}`, { tenantIds: [id], readOnly: true });
      if (verdict) throw new TenantctlError(verdict.kind, verdict.message, { reported: true });
    });
}
