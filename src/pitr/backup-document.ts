import { createHash } from 'node:crypto';
import type { Context } from '../context.js';
import { corrupt, tenantFile, type BackupManifest } from '../backups/manifest.js';
import { backupReader } from '../backups/source.js';
import { repositoryRef } from '../backups/in-repository.js';
import type { TenantDocument } from '../backups/restore.js';

// A physical backup's tenant.json (the tenant's record and modules when it was taken), read out of
// the repository and trusted only as the manifest hashed it: a new tenant is provisioned from its
// record (restore-physical.ts shapeOfBackup), and every physical restore sets its modules back.

/** The most of a tenant.json read out of the repository (a record and its modules: a few KiB). */
export const tenantDocumentCapBytes = 1024 * 1024;

/**
 * The backup's tenant.json, its size and SHA-256 the ones its manifest recorded (exit 2 otherwise).
 * The repository is not trusted: a recorded size over the cap is refused before anything is read,
 * and the read stops once past the recorded size (restic stopped), never holding more of it.
 */
export async function physicalBackupDocument(ctx: Context, backup: string, manifest: Pick<BackupManifest, 'files'>): Promise<TenantDocument> {
  const expected = tenantDocumentEntry(backup, manifest);
  let text = '';
  await (await backupReader(ctx, repositoryRef(backup))).input(tenantFile)(async (source) => {
    if (typeof source === 'string') throw corrupt(backup, `its ${tenantFile} is not in the repository`);
    text = await readRecorded(backup, source, expected);
    return {};
  });
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw corrupt(backup, `its ${tenantFile} is not JSON`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw corrupt(backup, `its ${tenantFile} is not a JSON object`);
  return document as TenantDocument;
}

/** The manifest's entry for tenant.json: a size within the cap, or refused (exit 2) before reading. */
export function tenantDocumentEntry(backup: string, manifest: Pick<BackupManifest, 'files'>): { bytes: number; sha256: string } {
  const entry: unknown = manifest.files[tenantFile];
  const { bytes, sha256 } = (entry ?? {}) as { bytes?: unknown; sha256?: unknown };
  if (typeof sha256 !== 'string' || typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) throw corrupt(backup, `its manifest records no size and SHA-256 for ${tenantFile}`);
  if (bytes > tenantDocumentCapBytes) throw corrupt(backup, `its manifest records ${tenantFile} as ${bytes} bytes, more than the ${tenantDocumentCapBytes} a tenant record may have`);
  return { bytes, sha256 };
}

/**
 * The text of a stream that must be exactly `expected` (size and SHA-256), hashed as it comes: a
 * stream longer than the recorded size is refused as soon as it is (the caller's reader stops).
 */
export async function readRecorded(backup: string, source: AsyncIterable<Buffer | string>, expected: { bytes: number; sha256: string }): Promise<string> {
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const piece of source) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    got += chunk.length;
    if (got > expected.bytes) throw corrupt(backup, `its ${tenantFile} is longer than the ${expected.bytes} bytes its manifest recorded`);
    hash.update(chunk);
    chunks.push(chunk);
  }
  if (got !== expected.bytes) throw corrupt(backup, `its ${tenantFile} is ${got} bytes, and its manifest recorded ${expected.bytes} (truncated?)`);
  const sha = hash.digest('hex');
  if (sha !== expected.sha256) throw corrupt(backup, `its ${tenantFile} has SHA-256 ${sha}, and its manifest recorded ${expected.sha256}`);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The modules the document records, as the restore's intent keeps them (key and on/off only): a
 * list of anything else, or with a key twice, is refused (exit 2) before anything is recorded; none
 * recorded is none to set.
 */
export function modulesOfDocument(backup: string, document: Pick<TenantDocument, 'modules'>): TenantDocument['modules'] {
  const modules: unknown = (document as { modules?: unknown }).modules;
  if (modules === undefined) return [];
  if (!Array.isArray(modules)) throw corrupt(backup, `its ${tenantFile}'s modules are not a list`);
  const seen = new Set<string>();
  return modules.map((m: unknown) => {
    const { key, enabled } = (m ?? {}) as { key?: unknown; enabled?: unknown };
    if (typeof key !== 'string' || key === '' || typeof enabled !== 'boolean') throw corrupt(backup, `its ${tenantFile} holds a module that is not {key, enabled}: ${JSON.stringify(m)?.slice(0, 80)}`);
    // Twice (on and off, say) has no one state to set back: a tenant.json tenantctl wrote never has it.
    if (seen.has(key)) throw corrupt(backup, `its ${tenantFile} lists module ${JSON.stringify(key.slice(0, 60))} more than once`);
    seen.add(key);
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
