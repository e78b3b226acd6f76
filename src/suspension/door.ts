import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';

/**
 * Closes a suspended tenant's front door (its page and 401s instead of the app), strictly: the
 * suspend verb records 'door-closed' only after this returned, so a sync that failed, or whose
 * nginx -t refused this tenant's new server blocks, fails the step and the journal keeps it at
 * 'marked' for the next command to try again. Any sync renders a tenant from its registry status
 * (frontdoor/render.ts routeKind), so whichever sync runs next closes it whatever the journal says.
 * Without a front door on this machine there is nothing to close: 'none', at the cost of a stat().
 */
export async function closeDoor(ctx: Context, tenant: string): Promise<'closed' | 'none'> {
  const { frontdoorLayout, isInitialised } = await import('../frontdoor/layout.js');
  if (!(await isInitialised(frontdoorLayout(ctx.config)))) return 'none';
  const { syncFrontdoor } = await import('../frontdoor/sync.js');
  const result = await syncFrontdoor(ctx.dockerHost === ctx.homeHost ? ctx : { ...ctx, dockerHost: ctx.homeHost });
  const refused = result.refused.find((r) => r.tenant === tenant);
  if (refused) throw new TenantctlError('frontdoor', `the front door refused ${tenant}'s suspended configuration (nginx -t: ${refused.reason}); its stopped app answers 502/503 meanwhile`);
  return 'closed';
}
