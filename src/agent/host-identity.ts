import type { Context } from '../context.js';
import type { AdminDb } from '../admin-db/database.js';
import { ignoreFailure } from '../common/ignore-failure.js';

/**
 * Why this agent must not lead its host, or undefined: the host's name (TENANTCTL_HOST_ID) is
 * recorded in admin_hosts (migration 012) with another engine's ID than the one this agent's Docker
 * reaches. Leading would back up, restart and judge the other engine's tenants from this one (a
 * renamed machine, a copied configuration). An engine that does not say its ID is not a mismatch.
 */
export async function leadershipRefusal(ctx: Context, db: AdminDb, hostId: string): Promise<string | undefined> {
  const engine = await ctx.dockerHost.engineId({ signal: ctx.signal }).catch(ignoreFailure('an engine that does not say its ID is not a mismatch'));
  if (!engine) return undefined;
  const { rows } = await db.pool.query("SELECT engine_id FROM admin_hosts WHERE name = $1 AND state <> 'removed'", [hostId]).catch(db.unreachable);
  const recorded = rows[0]?.engine_id as string | null | undefined;
  if (!recorded || recorded === engine) return undefined;
  return `host ${hostId} is recorded with engine ${recorded}, but this agent's Docker is engine ${engine}: not leading (set TENANTCTL_HOST_ID to this engine's host name, or fix admin_hosts)`;
}
