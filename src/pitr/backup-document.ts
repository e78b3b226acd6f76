import { createHash } from 'node:crypto';
import type { Context } from '../context.js';
import { corrupt, tenantFile, type BackupManifest } from '../backups/manifest.js';
import { backupReader } from '../backups/source.js';
import { repositoryRef } from '../backups/in-repository.js';
import type { TenantDocument } from '../backups/restore.js';

// A physical backup's tenant.json (the tenant's record and modules when it was taken), read out of
// the repository and trusted only as the manifest hashed it: a new tenant is provisioned from its
// record (restore-physical.ts shapeOfBackup), and every physical restore sets its modules back.

/** The backup's tenant.json, its SHA-256 the one its manifest recorded (exit 2 otherwise). */
export async function physicalBackupDocument(ctx: Context, backup: string, manifest: Pick<BackupManifest, 'files'>): Promise<TenantDocument> {
  const text = await (await backupReader(ctx, repositoryRef(backup))).text(tenantFile);
  const expected = manifest.files[tenantFile]?.sha256;
  const got = createHash('sha256').update(text).digest('hex');
  if (!expected || got !== expected) throw corrupt(backup, `its ${tenantFile} has SHA-256 ${got}, and its manifest recorded ${expected ?? 'none'}`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw corrupt(backup, `its ${tenantFile} is not JSON`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw corrupt(backup, `its ${tenantFile} is not a JSON object`);
  return document as TenantDocument;
}

/**
 * The modules the document records, as the restore's intent keeps them (key and on/off only): a
 * list of anything else is refused (exit 2) before anything is recorded; none recorded is none to set.
 */
export function modulesOfDocument(backup: string, document: Pick<TenantDocument, 'modules'>): TenantDocument['modules'] {
  const modules: unknown = (document as { modules?: unknown }).modules;
  if (modules === undefined) return [];
  if (!Array.isArray(modules)) throw corrupt(backup, `its ${tenantFile}'s modules are not a list`);
  return modules.map((m: unknown) => {
    const { key, enabled } = (m ?? {}) as { key?: unknown; enabled?: unknown };
    if (typeof key !== 'string' || key === '' || typeof enabled !== 'boolean') throw corrupt(backup, `its ${tenantFile} holds a module that is not {key, enabled}: ${JSON.stringify(m)?.slice(0, 80)}`);
    return { key, enabled };
  });
}

/**
 * The modules a finished restore sets, from its intent alone: a physical restore's (recorded before
 * its first effect); none for a to-time restore or an intent older code wrote (left as they are).
 */
export function modulesToSet(intent: { physical?: unknown; modules?: TenantDocument['modules'] }): TenantDocument['modules'] | undefined {
  return intent.physical !== undefined && Array.isArray(intent.modules) ? intent.modules : undefined;
}
