import type { Context } from '../context.js';

/**
 * Records that the agent raised the policy's warning ('suspension.deprovision-soon') for a
 * suspended tenant: the policy deprovisions it no sooner than a day after this (policy.ts). The
 * agent's policy loop calls it after raising the alert, with its own role (tenantctl_agent: UPDATE
 * on this column alone, migration 019). Only the first warning of a suspension counts (a repeated
 * call keeps it); false when the tenant is not suspended (any more).
 */
export async function markDeprovisionWarned(ctx: Pick<Context, 'adminDb'>, id: string): Promise<boolean> {
  const db = await ctx.adminDb();
  const { rows } = await db.pool.query(
    `UPDATE admin_customers SET deprovision_warned_at = COALESCE(deprovision_warned_at, now())
      WHERE id = $1 AND status = 'suspended' RETURNING deprovision_warned_at`,
    [id],
  ).catch(db.unreachable);
  return rows.length === 1;
}
