import type { Context } from '../context.js';
import { parseTenantId } from '../tenants/input.js';
import { BackupStore, type BackupRecord } from './store.js';
import { physicalPieceOf } from './manifest.js';

// `tenantctl backups [id]`: the backups on record, newest first, with their job state.

export interface BackupsResult {
  tenant: string | null;
  backups: Array<BackupRecord & { method: 'logical' | 'physical' }>;
}

/** A backup's method: its manifest says, or (running, failed: no manifest yet) its snapshot of a cluster's tar. */
export const methodOf = (b: Pick<BackupRecord, 'manifest' | 'snapshots'>): 'logical' | 'physical' =>
  (b.manifest && physicalPieceOf(b.manifest)) || Object.keys(b.snapshots).some((f) => f.endsWith('.pgdata.tar')) ? 'physical' : 'logical';

export async function listBackups(ctx: Context, input: { id?: unknown; all?: boolean }): Promise<BackupsResult> {
  const tenant = input.id === undefined ? undefined : parseTenantId(input.id);
  const store = new BackupStore(await ctx.adminDb());
  const backups = (await store.list({ tenant, includePruned: input.all === true })).map((b) => ({ ...b, method: methodOf(b), manifest: null }));
  return { tenant: tenant ?? null, backups };
}
