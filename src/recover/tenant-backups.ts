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

/** The backups the admin database records in the folder store (backupsDir) whose folder is still there. */
export const folderBackups: TenantBackupSource = {
  async latest(ctx, id) {
    const records = await new BackupStore(await ctx.adminDb()).list({ tenant: id });
    for (const record of records.filter((r) => r.state === 'succeeded')) {
      if (!(await stat(record.directory).then((s) => s.isDirectory(), () => false))) continue;
      const { dir } = await locateAndVerify(ctx, record.directory);
      return { id: record.id, dir };
    }
    return undefined;
  },
};
