import type { Command } from 'commander';
import { withContext } from '../run.js';
import { TenantctlError } from '../../common/errors.js';

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .addHelpText('after', `
Examples:
  $ tenantctl status acme
  $ tenantctl status acme --json
  $ tenantctl status acme --quiet && echo healthy

Exit 0 only when the tenant is active, every container runs (none unhealthy) and no operation is
in flight; 7 when it is active but a container is not running or unhealthy; 5 for any other status
or an unfinished operation (a suspended tenant is 5); 3 when it is deprovisioned or unknown. The
record is printed either way, with "disk": what its volumes hold (one du in a helper container)
against its plan's quota (plans.<plan>.diskQuota), and "over" when above it.
`)
    .action(async (id: string, _options, command: Command) => {
      const { status, statusExit } = await import('../../tenants/status.js');
      const { renderStatus } = await import('../../tenants/render.js');
      const { tenantDisk } = await import('../../quota/disk-quota.js');
      const { renderDisk } = await import('../../quota/render.js');
      let verdict: ReturnType<typeof statusExit>;
      await withContext(command, async (ctx) => {
        const result = await status(ctx, { id });
        verdict = statusExit(result);
        // Its volumes against its plan's disk quota; measuring never fails status (disk.error says why not).
        return { ...result, disk: await tenantDisk(ctx, result.tenant) };
      }, (r) => `${renderStatus(r)}\n${renderDisk(r.disk)}`, { tenantIds: [id], readOnly: true });
      if (verdict) throw new TenantctlError(verdict.kind, verdict.message, { reported: true });
    });
}
