import type { Command } from 'commander';
import { confirmInteractively, withContext } from '../run.js';
import { defaultConcurrency } from '../concurrency.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('<ids...>', 'tenant ids')
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--keep-data', 'keep the data volumes and customers/<id>/ (its passwords) for a later provision')
    .option('--concurrency <n>', 'tenants removed at once when several are given (default: twice the CPU count, 2 to 8)', String(defaultConcurrency()))
    .addHelpText('after', `
Examples:
  $ tenantctl deprovision acme
  $ tenantctl deprovision acme --yes --json
  $ tenantctl deprovision acme --yes --keep-data
  $ tenantctl deprovision acme globex initech --yes
`)
    .action(async (ids: string[], options, command: Command) => {
      const { deprovision } = await import('../../tenants/deprovision.js');
      const { renderDeprovision, renderDeprovisionBatch } = await import('../../tenants/render.js');
      const { parseTenantId } = await import('../../tenants/input.js');
      ids.forEach((id) => parseTenantId(id)); // refuse a bad id before asking anything
      const confirmed = options.yes === true || (await confirmInteractively(ids));
      if (ids.length === 1) {
        return withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => deprovision(ctx, { id: ids[0], confirmed, keepData: options.keepData })), renderDeprovision, { tenantIds: ids });
      }
      const { deprovisionBatch } = await import('../../tenants/deprovision-batch.js');
      const concurrency = Number(options.concurrency);
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => deprovisionBatch(ctx, { ids, confirmed, keepData: options.keepData, concurrency })), renderDeprovisionBatch, {
        adminConnections: Math.min(Number.isFinite(concurrency) ? concurrency : 4, 32) * 2 + 2,
        tenantIds: ids,
      });
    });
}
