import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { lockSpaces } from '../admin-db/database.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';

// One shipper per tenant at a time: the agent's loop, `backup` and a to-time restore each take the
// tenant's shipping lock (its own lock space, not the tenant lock: shipping every few seconds must
// never make an operator's `stop` or `restore` fail with "being changed"). A to-time restore holds
// it for its whole run, so nothing ships what a restored server archives before it is proven.

/** The tenant's shipping lock, or undefined at once when another shipper holds it (the agent skips to the next round). */
export async function tryShippingLock(ctx: Context, tenant: string): Promise<(() => Promise<void>) | undefined> {
  return (await ctx.adminDb()).tryLock(lockSpaces.walShipping, tenant);
}

/** The tenant's shipping lock, waiting for a shipment in flight to end (seconds). */
export async function shippingLock(ctx: Context, tenant: string, deadlineMs = 120_000): Promise<() => Promise<void>> {
  return retryUntilDeadline(async () => {
    const release = await tryShippingLock(ctx, tenant);
    return release ? done(release) : notYet(`the WAL of ${tenant} is being shipped by another tenantctl (the agent?)`);
  }, {
    what: `waiting for the WAL shipping lock of ${tenant}`, deadlineMs, clock: ctx.clock, signal: ctx.signal, initialDelayMs: 200, maxDelayMs: 1000,
    onDeadline: (why) => new TenantctlError('conflict', `${why}; try again when it has finished`),
  });
}
