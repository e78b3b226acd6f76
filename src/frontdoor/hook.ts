import { messageOf } from '../common/errors.js';
import type { Context } from '../context.js';
import { frontdoorLayout, isInitialised } from './layout.js';
import { syncFrontdoor } from './sync.js';

/**
 * After a tenant changed (provision, deprovision, stop, start, a batch of them): bring the front
 * door in step, if it is set up here (<stateDir>/frontdoor/state.json). Never fails the tenant's
 * operation: a front door problem is one warning line, and `tenantctl frontdoor status` shows it.
 * Without a front door this costs one stat().
 */
export async function syncAfterTenantChange(ctx: Context): Promise<void> {
  if (ctx.signal.aborted || !(await isInitialised(frontdoorLayout(ctx.config)))) return;
  try {
    const result = await syncFrontdoor(ctx);
    for (const r of result.refused) {
      ctx.reporter.info(`warning: front door: nginx -t refused ${r.tenant}'s new configuration (${r.reason}); its last good one is served (tenantctl frontdoor status)`);
    }
  } catch (error) {
    ctx.reporter.info(`warning: the front door was not updated: ${messageOf(error)} (tenantctl frontdoor status; tenantctl frontdoor reload retries)`);
  }
}
