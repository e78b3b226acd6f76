import type { Context } from '../context.js';
import { TenantRegistry, type Suspension } from '../tenants/registry.js';
import { decideSuspensions, type PolicyVerdict } from './policy.js';

// `tenantctl suspended [--due]`: the suspended tenants, how long each has been, and what the policy
// (suspension.deprovisionAfterDays) says of it. What the agent will run to decide.

export interface SuspendedTenant extends PolicyVerdict {
  name: string;
  host: string;
  suspension: Suspension;
}

export interface SuspendedResult {
  /** suspension.deprovisionAfterDays; null: off. */
  deprovisionAfterDays: number | null;
  tenants: SuspendedTenant[];
  /** Ids due for deprovisioning now / within a day (the warning). */
  due: string[];
  warn: string[];
}

export async function listSuspended(ctx: Context, { due = false }: { due?: boolean } = {}): Promise<SuspendedResult> {
  const rows = (await new TenantRegistry(await ctx.adminDb()).list({ status: 'suspended' })).filter((r) => r.suspension);
  const deprovisionAfterDays = ctx.config.suspension.deprovisionAfterDays;
  const decision = decideSuspensions(rows.map((r) => ({ id: r.id, suspendedAt: r.suspension!.at, warnedAt: r.suspension!.deprovisionWarnedAt })), { deprovisionAfterDays, now: ctx.clock.now() });
  const byId = new Map(rows.map((r) => [r.id, r]));
  const tenants = decision.verdicts
    .filter((v) => !due || v.due)
    .map((v) => ({ ...v, name: byId.get(v.id)!.name, host: byId.get(v.id)!.host, suspension: byId.get(v.id)!.suspension! }));
  return { deprovisionAfterDays, tenants, due: decision.due, warn: decision.warn };
}
