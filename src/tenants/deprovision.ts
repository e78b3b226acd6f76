import { TenantctlError } from '../common/errors.js';
import type { Context } from '../context.js';
import { parseTenantId } from './input.js';
import { projectName } from '../stack/compose-argv.js';
import { objectsByLabel } from '../engine/docker.js';
import { projectLabel } from '../stack/removal.js';
import { tenantPaths } from './files.js';
import { removeTenantStack, type TenantRemovalReport } from './remove.js';
import { clearTenantSecrets } from '../secrets/sealed-store.js';
import { revokeAllApiKeys } from '../api-keys/store.js';
import { TenantRegistry, wrongHost } from './registry.js';
import { holdTenant } from './hold.js';

export interface DeprovisionInput {
  id: unknown;
  /** The CLI asks (or requires --yes) before calling this. */
  confirmed: boolean;
  keepData?: boolean;
}

export interface DeprovisionResult {
  id: string;
  outcome: 'deprovisioned' | 'already-deprovisioned';
  project: string;
  keptData: boolean;
  removed: TenantRemovalReport;
}

export async function deprovision(ctx: Context, input: DeprovisionInput): Promise<DeprovisionResult> {
  const id = parseTenantId(input.id);
  if (!input.confirmed) throw new TenantctlError('refused', `not deprovisioning ${id} without confirmation; pass --yes`);
  const keepData = input.keepData ?? false;
  const db = await ctx.adminDb();
  const registry = new TenantRegistry(db);
  const unlock = await holdTenant(ctx, id);
  try {
    const record = await registry.get(id);
    const project = record?.composeProject ?? projectName(ctx.config.composeProjectPrefix, id);
    const paths = tenantPaths(ctx.config.customersDir, id);
    if (!record) {
      const leftovers = await objectsByLabel(ctx.dockerHost, projectLabel(project));
      if (leftovers.containers.length + leftovers.networks.length + leftovers.volumes.length === 0) {
        throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
      }
    }
    if (record && record.host !== ctx.dockerHost.id && (record.status !== 'deprovisioned' || record.keptData)) {
      // Its stack is on another host: this one would "prove" it gone and release what it still holds.
      throw wrongHost(id, record.host, ctx.dockerHost.id);
    }
    const hadKeptData = record?.keptData === true;
    if (record?.status === 'deprovisioned' && (keepData || !hadKeptData)) {
      const removed = await removeTenantStack(ctx, { project, paths, keepData: true });
      return { id, outcome: 'already-deprovisioned', project, keptData: hadKeptData, removed };
    }
    if (record) await registry.markDeprovisioning(id, keepData);
    await ctx.pause('deprovision:removing');
    ctx.reporter.step(`removing ${project}${keepData ? ' (keeping data volumes)' : ''}`);
    const removed = await removeTenantStack(ctx, { project, paths, keepData });
    await ctx.pause('deprovision:removed');
    if (record) {
      // Kept data keeps its passwords; otherwise nothing of the tenant's secrets outlives it.
      if (!keepData) await clearTenantSecrets(db, id);
      // Keys to a stack that is gone must not keep working, whether or not its data was kept.
      await registry.markDeprovisioned(id, keepData, async (client) => {
        await revokeAllApiKeys(db, client, id);
      });
    }
    return { id, outcome: 'deprovisioned', project, keptData: keepData, removed };
  } finally {
    await unlock();
  }
}
