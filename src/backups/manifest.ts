import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { TenantctlError, messageOf } from '../common/errors.js';
import { hashFile } from '../stack/docker-stream.js';

// A backup on disk: <backupsDir>/<tenant>/<backup id>/ with
//   db.dump        pg_dump -Fc of the tenant database, made by the tenant's own PostgreSQL image
//   redis.rdb      a Redis snapshot (BGSAVE), as Redis wrote it
//   tenant.json    the tenant's record, modules, API key hashes (never keys) and deployment
//   manifest.json  every file above with its size and SHA-256; no secret anywhere
// While it is being written the folder is <backup id>.partial; it gets its name only once the
// dump has been checked and the manifest written.

export const backupFormat = 'tenantctl-backup/1';
export const manifestFile = 'manifest.json';
export const dumpFile = 'db.dump';
export const redisFile = 'redis.rdb';
export const tenantFile = 'tenant.json';

export interface ManifestEntry {
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof backupFormat;
  id: string;
  tenant: string;
  createdAt: string;
  host: string;
  postgres: { image: string; imageId: string; version: string };
  redis: { image: string; imageId: string };
  /** By file name, relative to the backup's folder. */
  files: Record<string, ManifestEntry>;
}

/** acme-20250131t090000z-3f9a: sorts by time, unique, a valid admin_backups id. */
export function newBackupId(tenant: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase();
  return `${tenant}-${stamp}-${randomBytes(2).toString('hex')}`;
}

export function backupDirectory(backupsDir: string, tenant: string, backupId: string): string {
  return path.join(backupsDir, tenant, backupId);
}

export const sha256Of = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** A backup that cannot be used as it is: refused before anything is changed (exit 2). */
export function corrupt(where: string, why: string): TenantctlError {
  return new TenantctlError('usage', `backup ${where} is unusable: ${why}; nothing was changed`);
}

/**
 * Reads the manifest and checks every file it lists against its size and SHA-256 (and the manifest
 * itself against the hash recorded in the admin database, when there is one). Any difference is
 * refused, naming the file: a truncated or altered backup is never restored.
 */
export async function verifyBackup(dir: string, expectedManifestSha?: string | null): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(path.join(dir, manifestFile), 'utf8');
  } catch (error) {
    throw corrupt(dir, `${manifestFile} cannot be read (${messageOf(error)})`);
  }
  if (expectedManifestSha && sha256Of(text) !== expectedManifestSha) throw corrupt(dir, `${manifestFile} differs from the one recorded when the backup was made`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(text);
  } catch {
    throw corrupt(dir, `${manifestFile} is not valid JSON (truncated?)`);
  }
  if (manifest?.format !== backupFormat || typeof manifest.files !== 'object' || !manifest.files || typeof manifest.tenant !== 'string') {
    throw corrupt(dir, `${manifestFile} is not a ${backupFormat} manifest`);
  }
  for (const required of [dumpFile, redisFile, tenantFile]) {
    if (!manifest.files[required]) throw corrupt(dir, `the manifest lists no ${required}`);
  }
  for (const [name, entry] of Object.entries(manifest.files)) {
    if (path.basename(name) !== name) throw corrupt(dir, `the manifest names ${JSON.stringify(name)}, outside the backup's folder`);
    let actual: { bytes: number; sha256: string };
    try {
      actual = await hashFile(path.join(dir, name));
    } catch (error) {
      throw corrupt(dir, `${name} cannot be read (${messageOf(error)})`);
    }
    if (actual.bytes !== entry.bytes) throw corrupt(dir, `${name} is ${actual.bytes} bytes, the manifest says ${entry.bytes} (truncated?)`);
    if (actual.sha256 !== entry.sha256) throw corrupt(dir, `${name} does not match its SHA-256 in the manifest (altered or damaged)`);
  }
  return manifest;
}
