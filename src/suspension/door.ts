import type { Context } from '../context.js';

/**
 * Brings the front door in step with the registry between two steps of suspend (before the stack
 * stops, so visitors get the suspension page rather than the app going away under them). Never
 * fails the verb: a door that is not set up costs a stat(), a failing one is a warning line, and
 * the CLI syncs once more when the command ends (cli/frontdoor-sync.ts).
 */
export async function syncDoor(ctx: Context): Promise<void> {
  const { syncAfterTenantChange } = await import('../frontdoor/hook.js');
  await syncAfterTenantChange(ctx.dockerHost === ctx.homeHost ? ctx : { ...ctx, dockerHost: ctx.homeHost });
}
