import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .option('--status <status>', 'only tenants in this status')
    .option('-a, --all', 'include deprovisioned tenants')
    .addHelpText('after', `
Examples:
  $ tenantctl list
  $ tenantctl list --status failed --json
`)
    .action(async (options, command: Command) => {
      const { list } = await import('../../tenants/list.js');
      const { renderList } = await import('../../tenants/render.js');
      const { frontdoorLayout, isInitialised, tenantDoorUrl } = await import('../../frontdoor/layout.js');
      await withContext(command, async (ctx) => {
        const { hostsNamed } = await import('../../hosts/resolve.js');
        const [rows, door] = await Promise.all([list(ctx, { ...options, hostsNamed: (names) => hostsNamed(ctx, names) }), isInitialised(frontdoorLayout(ctx.config))]);
        // With a front door on this host, a routed tenant's address is its hostname there.
        if (!door) return rows;
        return rows.map((row) => (row.status === 'active' || row.status === 'stopped' || row.status === 'suspended' ? { ...row, doorUrl: tenantDoorUrl(ctx.config, row.id) } : row));
      }, renderList);
    });
}
