import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';

// The agent's WAL shipping loop: every pitr.shipIntervalSeconds, the archived WAL of every active
// PITR tenant on its host into the repository (shipAll). With archive_timeout (60 s by default) a
// written change reaches the repository within about archive_timeout + the interval. A tenant
// whose shipment fails has it recorded on its row (status shows it); the tick fails only then, so
// the agent's loop state shows the failure too.

export interface ShipLoop {
  name: string;
  intervalMs: number;
  tick(ctx: Context, signal: AbortSignal): Promise<void>;
}

export function walShippingLoopFor(ctx: Pick<Context, 'config'>): ShipLoop {
  return {
    name: 'wal-shipping',
    intervalMs: Math.round(ctx.config.pitr.shipIntervalSeconds * 1000),
    async tick(c, signal) {
      const anyPitr = Object.values(c.config.plans).some((p) => p.pitr);
      if (!anyPitr) return;
      const { shipAll } = await import('./backup.js');
      const { failed } = await shipAll({ ...c, signal });
      const names = Object.keys(failed);
      if (names.length > 0) throw new TenantctlError('repository', `WAL shipping failed for ${names.map((n) => `${n} (${failed[n]})`).join('; ')}`);
    },
  };
}
