import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';

/**
 * Runs a tenant-changing command (provision, deprovision, stop, start, restart, upgrade, restore,
 * rotate-secrets, move; one tenant or a batch: each may re-create the app, whose container address
 * the front door dials), then brings the front door in step with the registry once, if it is set up here. The
 * front door never fails the command: its problems are a warning line (see src/frontdoor/hook.ts).
 * Input errors (exit 2, 3, 4) changed nothing, so they skip it; without a front door it costs a stat().
 * An interrupted command still changed things (it undid them, or finished them: a move past its
 * target's proof): the door follows, with a signal of its own (the command's is aborted).
 */
export async function thenSyncFrontdoor<T>(ctx: Context, work: () => Promise<T>, { skip = false } = {}): Promise<T> {
  try {
    const result = await work();
    if (!skip) await sync(ctx);
    return result;
  } catch (error) {
    if (!skip && !(error instanceof TenantctlError && ['usage', 'notFound', 'refused'].includes(error.kind))) {
      await sync(ctx.signal.aborted ? { ...ctx, signal: new AbortController().signal } : ctx);
    }
    throw error;
  }
}

async function sync(ctx: Context): Promise<void> {
  const { syncAfterTenantChange } = await import('../frontdoor/hook.js');
  // The front door runs on this environment's host, whichever host the tenant's command went to.
  await syncAfterTenantChange(ctx.dockerHost === ctx.homeHost ? ctx : { ...ctx, dockerHost: ctx.homeHost });
}
