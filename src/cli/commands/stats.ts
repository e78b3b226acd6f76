import { Option, type Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .argument('[ids...]', 'tenant ids (default: every tenant on record on this host)')
    .option('--host <name>', 'the tenants of this host of the fleet (default: this environment\'s; tenantctl hosts list)')
    .addOption(new Option('--sort <key>', 'order tenants, and services within each, by').choices(['cpu', 'memory', 'name']).default('cpu'))
    .addHelpText('after', `
Examples:
  $ tenantctl stats
  $ tenantctl stats acme globex --sort memory
  $ tenantctl stats --json | jq '.tenants[] | {id, cpu: .total.cpuPercent}'

CPU (percent of one core), memory used and limit, network and block I/O (since each container
started) and processes, per tenant and per service, from one \`docker stats --no-stream\` call
(a sample takes about 2 s). A stopped service shows its state and zeros. An unknown tenant is exit 3.
`)
    .action(async (ids: string[], options: { sort: string; host?: string }, command: Command) => {
      const { stats } = await import('../../tenants/stats.js');
      const { renderStats } = await import('../../tenants/day2-render.js');
      await withContext(command, (ctx) => stats(ctx, { ids, sort: options.sort }), renderStats, { onInterrupt: 'end', tenantIds: ids, hostName: options.host, readOnly: true });
    });
}
