import type { Context } from '../context.js';
import type { TenantRecord, TenantStatus } from '../db/registry.js';
import { usageError } from '../errors.js';

const statuses: TenantStatus[] = ['provisioning', 'active', 'failed', 'deprovisioning', 'deprovisioned'];

export async function list(ctx: Context, input: { status?: string; all?: boolean }): Promise<TenantRecord[]> {
  if (input.status !== undefined && !statuses.includes(input.status as TenantStatus)) {
    throw usageError(`--status must be one of ${statuses.join(', ')}`);
  }
  const registry = await ctx.registry();
  const rows = await registry.list({ status: input.status as TenantStatus | undefined });
  // Deprovisioned tenants stay on record for the audit trail; hide them unless asked.
  return input.all || input.status ? rows : rows.filter((r) => r.status !== 'deprovisioned');
}
