import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { holdTenant } from '../tenants/hold.js';
import { deprovision, type DeprovisionResult } from '../tenants/deprovision.js';

// What the suspension policy does to a tenant that is due (policy.ts decides; the agent's policy
// loop calls this on its host's leader): the deprovision verb itself, with --keep-data, as the agent.
//
// Why keep-data, always: the policy runs unattended, and a customer who pays a month late should
// get their data back with `tenantctl provision <id>`. What goes: containers and network, ports
// and subnet, the API keys (revoked). What stays: the volumes, customers/<id>/ and the sealed
// secrets. Removing the data is an operator's `tenantctl deprovision <id>` afterwards (it removes
// a deprovisioned tenant's kept data), never the agent's: its role may not clear secrets, and
// customers/ is read-only in its container.
//
// Resumable as the verb is: deprovision_policy_at is set (under the tenant's lock, audited)
// before the verb's first effect, and the verb records 'deprovisioning' before it removes
// anything; an agent killed mid-way leaves 'deprovisioning' with deprovision_policy_at set, and
// the next policy pass of any agent of the host runs the same verb again (pendingPolicyDeprovisions).
// The database confines the agent's writes to exactly these transitions (migration 026's guard).

export interface PolicyDeprovision {
  id: string;
  outcome: 'deprovisioned' | 'resumed' | 'not-due';
  result?: DeprovisionResult;
}

/** Deprovisions a due suspended tenant (or finishes the policy's interrupted run) with its data kept. */
export async function deprovisionByPolicy(ctx: Context, id: string, deprovisionAfterDays: number): Promise<PolicyDeprovision> {
  const db = await ctx.adminDb();
  const release = await holdTenant(ctx, id);
  try {
    // Asked again under the lock: an operator's resume (or deprovision) may have come first.
    const { rows } = await db.pool.query(
      `SELECT status, deprovision_policy_at IS NOT NULL AS policy, kept_data, suspended_at, deprovision_warned_at,
              -- The guard's own test (migration 029): strictly older, in 24-hour days (no session
              -- time zone stretches them), so that what is due here is never refused there.
              (status = 'suspended' AND suspended_at < now() - make_interval(hours => 24 * $2)
                AND deprovision_warned_at < now() - interval '24 hours') AS due
         FROM admin_customers WHERE id = $1`,
      [id, deprovisionAfterDays],
    ).catch(db.unreachable);
    const row = rows[0];
    // Only a run of the policy's own (data kept): an operator's deprovision is never resumed as the policy's.
    const resuming = row?.status === 'deprovisioning' && row.policy === true && row.kept_data === true;
    if (!row || (!resuming && row.due !== true)) return { id, outcome: 'not-due' };
    if (!resuming) {
      await db.withTransaction(async (client) => {
        const { rowCount } = await client.query(
          // Not 'AND deprovision_policy_at IS NULL': a run killed after its mark (policy-deprovision:marked)
          // leaves a suspended tenant marked, and is begun again here, marked afresh.
          "UPDATE admin_customers SET deprovision_policy_at = now() WHERE id = $1 AND status = 'suspended'",
          [id],
        );
        if (rowCount !== 1) throw new TenantctlError('conflict', `${id} changed while the suspension policy looked at it`);
        await recordAudit(db, client, id, 'suspension.policy-deprovision', { status: 'suspended', suspended_at: row.suspended_at, deprovision_warned_at: row.deprovision_warned_at },
          { deprovisionAfterDays, keepData: true });
      });
    }
    await ctx.pause('policy-deprovision:marked');
    // The verb takes the lock again (nested: at once) and resumes from the registry's status.
    const result = await deprovision(ctx, { id, confirmed: true, keepData: true });
    await forgetPolicyMark(ctx, id);
    return { id, outcome: resuming ? 'resumed' : 'deprovisioned', result };
  } finally {
    await release();
  }
}

/** The policy's runs a killed agent left (still 'deprovisioning'), and finished ones whose mark is left: this host's. */
export async function pendingPolicyDeprovisions(ctx: Context, host: string): Promise<{ resume: string[]; finished: string[] }> {
  const db = await ctx.adminDb();
  const { rows } = await db.pool.query(
    "SELECT id, status FROM admin_customers WHERE host = $1 AND deprovision_policy_at IS NOT NULL AND (status = 'deprovisioned' OR (status = 'deprovisioning' AND kept_data)) ORDER BY id",
    [host],
  ).catch(db.unreachable);
  return { resume: rows.filter((r) => r.status === 'deprovisioning').map((r) => r.id), finished: rows.filter((r) => r.status === 'deprovisioned').map((r) => r.id) };
}

/** The mark is the policy run's, not the tenant's: cleared once deprovisioned (a later provision starts clean). */
export async function forgetPolicyMark(ctx: Context, id: string): Promise<void> {
  const db = await ctx.adminDb();
  await db.pool.query("UPDATE admin_customers SET deprovision_policy_at = NULL WHERE id = $1 AND status = 'deprovisioned' AND deprovision_policy_at IS NOT NULL", [id]).catch(db.unreachable);
}
