import type { Command } from 'commander';
import { withContext } from '../run.js';
import { TenantctlError } from '../../common/errors.js';

export function define(command: Command): void {
  command
    .option('--host <name>', 'check this host of the fleet (default: this environment\'s; tenantctl hosts list)')
    .option('--fix', 'repair what is safe: orphan containers and networks, stray allocations, stale folders, interrupted provisions (never a volume)')
    .addHelpText('after', `
Examples:
  $ tenantctl doctor
  $ tenantctl doctor --json
  $ tenantctl doctor --fix

Read-only without --fix. Exit 0 when nothing is left to fix, 10 when discrepancies remain (each is
listed with the command that fixes it).
`)
    .action(async (options, command: Command) => {
      const { doctor } = await import('../../doctor/doctor.js');
      const { renderDoctor } = await import('../../doctor/render.js');
      let open = 0;
      await withContext(command, async (ctx) => {
        const result = await doctor(ctx, { fix: options.fix === true });
        open = result.findings.filter((f) => f.fixed !== true).length;
        return result;
      }, renderDoctor, { hostName: options.host });
      if (open > 0) throw new TenantctlError('discrepancies', `${open} discrepancies left; each is listed with the command that fixes it`, { reported: true });
    });
}
