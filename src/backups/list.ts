import type { Context } from '../context.js';
import { parseTenantId } from '../tenants/input.js';
import { BackupStore, type BackupRecord } from './store.js';

// `tenantctl backups [id]`: the backups on record, newest first, with their job state.

export interface BackupsResult {
  tenant: string | null;
  backups: BackupRecord[];
}

export async function listBackups(ctx: Context, input: { id?: unknown; all?: boolean }): Promise<BackupsResult> {
  const tenant = input.id === undefined ? undefined : parseTenantId(input.id);
  const store = new BackupStore(await ctx.adminDb());
  const backups = (await store.list({ tenant, includePruned: input.all === true })).map((b) => ({ ...b, manifest: null }));
  return { tenant: tenant ?? null, backups };
}
