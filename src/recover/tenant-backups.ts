import { stat } from 'node:fs/promises';
import type { Context } from '../context.js';
import { BackupStore } from '../backups/store.js';
import { locateAndVerify } from '../backups/restore.js';

// Where recover finds each tenant's latest backup, as a verified folder the restore's data steps
// read (backups/restore.ts replaceData).

export interface TenantBackup {
  /** The backup's id (admin_backups, and the repository's snapshot of it). */
  id: string;
  /** A verified backup folder. */
  dir: string;
}

export interface TenantBackupSource {
  /** The newest backup of the tenant that verifies, or undefined when there is none. */
  latest(ctx: Context, id: string): Promise<TenantBackup | undefined>;
}

/**
 * The newest succeeded backup the admin database records for the tenant that is still there to
 * restore from: in the repository (its directory a repository reference) or a folder that survived.
 */
export const recordedBackups: TenantBackupSource = {
  async latest(ctx, id) {
    const records = await new BackupStore(await ctx.adminDb()).list({ tenant: id });
    for (const record of records.filter((r) => r.state === 'succeeded')) {
      if (record.repository === null && !(await stat(record.directory).then((s) => s.isDirectory(), () => false))) continue;
      const { dir } = await locateAndVerify(ctx, record.id);
      return { id: record.id, dir };
    }
    return undefined;
  },
};
