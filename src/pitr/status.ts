import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import type { TenantRecord } from '../tenants/registry.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { pitrService } from '../templates/wal-archive.js';
import { pitrOn } from './backup.js';
import { archiveStatus, type ArchiveLag } from './ship.js';

// `status` of a tenant whose plan has point-in-time recovery: its archive lag. Null for other
// plans; a problem reading it is said in `error`, never fails status.

export type PitrArchiveStatus = (ArchiveLag & { waitingCountedNow: boolean }) | { error: string } | null;

export async function pitrArchiveOf(ctx: Context, tenant: TenantRecord): Promise<PitrArchiveStatus> {
  if (!pitrOn(ctx, tenant.plan) || tenant.status === 'deprovisioned') return null;
  try {
    const template = await loadTenantTemplate(ctx, tenant);
    const lag = await archiveStatus(ctx, tenant, pitrService(template.block, template.name));
    return lag;
  } catch (error) {
    return { error: messageOf(error) };
  }
}
