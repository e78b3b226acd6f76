import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .addHelpText('after', `
Examples:
  $ tenantctl quota
  $ tenantctl quota --json | jq -r '.over[].id'

The tenants whose volumes hold more than their plan's disk quota (plans.<plan>.diskQuota), across
the Docker hosts this environment reaches: one measurement per host (a helper container running du
over the tenants' volumes, read-only), only hosts with a tenant whose plan has a quota. Hosts that
could not be measured (a swarm: its volumes are on its nodes; an engine down) are listed as
unmeasured. Exit 0 either way: it reports, it does not enforce (tenantctl status <id> shows one
tenant's use). What the agent's "disk over plan" alert asks.
`)
    .action(async (_options, command: Command) => {
      const { tenantsOverQuota } = await import('../../quota/disk-quota.js');
      const { renderOverQuota } = await import('../../quota/render.js');
      await withContext(command, async (ctx) => {
        const { hostsNamed } = await import('../../hosts/resolve.js');
        return tenantsOverQuota(ctx, { hostsNamed: (names) => hostsNamed(ctx, names) });
      }, renderOverQuota, { readOnly: true });
    });
}
