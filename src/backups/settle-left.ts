import path from 'node:path';
import { readFile, rm, stat } from 'node:fs/promises';
import { backupDirectory, manifestFile, sha256Of, verifyBackup } from './manifest.js';
import type { BackupRecord, BackupStore } from './store.js';
import { ignoreFailure } from '../common/ignore-failure.js';

const exists = (p: string) => stat(p).then(() => true, () => false);

/**
 * Settles a backup row a killed run left 'running' (the caller holds the tenant's lock, and knows the
 * run is gone). Killed between rename(.partial -> final) and its row's succeed, the final folder is
 * complete if its manifest verifies: it is recorded as succeeded (nothing orphaned), else removed.
 * Otherwise its .partial folder goes and the row is recorded as failed with `reason`.
 */
export async function settleLeftBackup(backupsDir: string, store: BackupStore, left: BackupRecord, reason: string): Promise<'succeeded' | 'failed'> {
  // A repository backup is never recorded after the fact: written or not, its snapshots are
  // forgotten by the tenant's next repository backup or retention run (in-repository.ts forgetUnrecorded).
  if (left.repository !== null) {
    await store.fail(left.id, `${reason}; its snapshots in the repository are forgotten by the next backup of the tenant`);
    return 'failed';
  }
  const finalDir = backupDirectory(backupsDir, left.tenant, left.id);
  const partial = `${finalDir}.partial`;
  if (!(await exists(partial)) && (await exists(finalDir))) {
    const manifest = await verifyBackup(finalDir).catch(ignoreFailure('a folder that does not verify is no finished backup: removed and failed below'));
    if (manifest && manifest.tenant === left.tenant && manifest.id === left.id) {
      const text = await readFile(path.join(finalDir, manifestFile), 'utf8');
      const sizeBytes = Object.values(manifest.files).reduce((sum, f) => sum + f.bytes, 0) + Buffer.byteLength(text);
      await store.succeed(left.id, { directory: finalDir, sizeBytes, manifestSha256: sha256Of(text), manifest });
      return 'succeeded';
    }
    await rm(finalDir, { recursive: true, force: true });
  }
  if (path.resolve(left.directory) === partial) await rm(partial, { recursive: true, force: true });
  await store.fail(left.id, reason);
  return 'failed';
}
