import type { Context } from '../context.js';
import type { TenantRecord, TenantStatus } from '../db/registry.js';
import { liveStatesByProject, type LiveState } from '../compose/docker.js';
import { usageError } from '../errors.js';

const statuses: TenantStatus[] = ['provisioning', 'active', 'failed', 'deprovisioning', 'deprovisioned'];

/** A registry row beside what Docker runs for it, so drift (an active tenant that is stopped or gone) shows. */
export type ListedTenant = TenantRecord & { live: LiveState | 'unknown' };

export async function list(ctx: Context, input: { status?: string; all?: boolean }): Promise<ListedTenant[]> {
  if (input.status !== undefined && !statuses.includes(input.status as TenantStatus)) {
    throw usageError(`--status must be one of ${statuses.join(', ')}`);
  }
  // Docker is asked while the admin database connection opens; the registry is the source of
  // truth, so an unreachable engine must not hide it.
  const live = liveStatesByProject(ctx.signal).catch(() => undefined);
  const registry = await ctx.registry();
  const rows = await registry.list({ status: input.status as TenantStatus | undefined });
  // Deprovisioned tenants stay on record for the audit trail; hide them unless asked.
  const shown = input.all || input.status ? rows : rows.filter((r) => r.status !== 'deprovisioned');
  const states = await live;
  return shown.map((row) => ({ ...row, live: states ? (states.get(row.composeProject) ?? 'missing') : 'unknown' }));
}
