import type { Context } from '../context.js';
import { TenantRegistry, type TenantRecord, type TenantStatus } from './registry.js';
import { liveStatesByProject, type LiveState } from '../stack/docker.js';
import { usageError } from '../common/errors.js';

const statuses: TenantStatus[] = ['provisioning', 'active', 'stopped', 'failed', 'deprovisioning', 'deprovisioned'];

/**
 * A registry row beside what Docker runs for it, so drift (an active tenant that is stopped or gone)
 * shows. A tenant stopped with `tenantctl stop` has status `stopped`: its stopped containers are not drift.
 */
export type ListedTenant = TenantRecord & {
  live: LiveState | 'unknown';
  /** https://<id>.<baseDomain> when a front door routes this host's tenants (set by the CLI). */
  doorUrl?: string;
};

export async function list(ctx: Context, input: { status?: string; all?: boolean }): Promise<ListedTenant[]> {
  if (input.status !== undefined && !statuses.includes(input.status as TenantStatus)) {
    throw usageError(`--status must be one of ${statuses.join(', ')}`);
  }
  // Docker is asked while the admin database connection opens; the registry is the source of
  // truth, so an unreachable engine must not hide it.
  const live = liveStatesByProject(ctx.dockerHost, ctx.signal).catch(() => undefined);
  const rows = await new TenantRegistry(await ctx.adminDb()).list({ status: input.status as TenantStatus | undefined });
  // Deprovisioned tenants stay on record for the audit trail; hide them unless asked.
  const shown = input.all || input.status ? rows : rows.filter((r) => r.status !== 'deprovisioned');
  const states = await live;
  return shown.map((row) => ({ ...row, live: states ? (states.get(row.composeProject) ?? 'missing') : 'unknown' }));
}
