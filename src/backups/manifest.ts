import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { TenantctlError, messageOf } from '../common/errors.js';
import { hashFile } from '../engine/docker-stream.js';

// A backup on disk: <backupsDir>/<tenant>/<backup id>/ with
//   <piece>.<ext>  one file per state piece of the tenant's template (x-tenantctl.state):
//                  .dump pg_dump -Fc (by the tenant's own PostgreSQL image), .rdb a Redis snapshot,
//                  .sqlite a SQLite online backup, .tar a volume archive (crm: db.dump, redis.rdb)
//   tenant.json    the tenant's record (template, profiles), modules, API key hashes (never keys), deployment
//   manifest.json  every file above with its size and SHA-256, and the pieces; no secret anywhere
// Format 2 names its pieces; format 1 (before templates declared state) is crm's db.dump and redis.rdb.
// While it is being written the folder is <backup id>.partial; it gets its name only once the
// dump has been checked and the manifest written.

export const backupFormat = 'tenantctl-backup/2';
const backupFormatV1 = 'tenantctl-backup/1';
export const manifestFile = 'manifest.json';
/** The files of a format-1 backup (crm's database and Redis). */
export const dumpFile = 'db.dump';
export const redisFile = 'redis.rdb';
export const tenantFile = 'tenant.json';

export interface ManifestEntry {
  bytes: number;
  sha256: string;
}

const pieceKinds: readonly string[] = ['postgres', 'redis', 'sqlite', 'volume'];

export interface ManifestPiece {
  kind: 'postgres' | 'redis' | 'sqlite' | 'volume';
  service: string;
  file: string;
  /** The image its snapshot was made with (postgres: pg_dump's own version too). */
  image: string;
  imageId: string;
  version?: string;
  /** physical: the piece is the server's whole cluster (pg_basebackup tar, physical-snapshot.ts), restored by swapping its data volume. */
  method?: 'physical';
  /** physical: the server's major version (a cluster starts only under the same major). */
  major?: number;
  /**
   * physical, layout files: `file` is the data directory's files (a restic snapshot of a folder,
   * physical-files.ts; its manifest entry holds the listing's SHA-256), `wal` the tar of backup_label
   * and the WAL from the backup's start to its end. Without a layout: `file` is pg_basebackup's tar.
   */
  layout?: 'files';
  wal?: string;
}

export interface BackupManifest {
  format: typeof backupFormat;
  id: string;
  tenant: string;
  createdAt: string;
  host: string;
  /** The template the tenant ran (format 1: crm). */
  template: string;
  /** The state pieces, by the template's names. */
  pieces: Record<string, ManifestPiece>;
  /** By file name, relative to the backup's folder. */
  files: Record<string, ManifestEntry>;
}

/** The physical piece of a backup's manifest (backup --physical), when it is a physical backup. */
export function physicalPieceOf(manifest: Pick<BackupManifest, 'pieces'>): ManifestPiece | undefined {
  return Object.values(manifest.pieces).find((p) => p.method === 'physical');
}

/**
 * The pieces a physical backup took the logical way beside its cluster (crm's Redis; none for a
 * template whose state is PostgreSQL alone), by name: restored as a logical restore stages and swaps them.
 */
export function logicalPiecesOf(manifest: Pick<BackupManifest, 'pieces'>): Record<string, ManifestPiece> {
  return Object.fromEntries(Object.entries(manifest.pieces).filter(([, p]) => p.method !== 'physical'));
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
  const manifest = parseManifest(dir, text, expectedManifestSha);
  for (const [name, entry] of Object.entries(manifest.files)) {
    let actual: { bytes: number; sha256: string };
    try {
      actual = await hashFile(path.join(dir, name));
    } catch (error) {
      throw corrupt(dir, `${name} cannot be read (${messageOf(error)})`);
    }
    const wrong = entryMismatch(name, entry, actual);
    if (wrong) throw corrupt(dir, wrong);
  }
  return manifest;
}

/**
 * A manifest's text checked without its files (pure: a repository backup's manifest is read back
 * from restic, a folder's from disk): against the hash recorded when it was made (when there is
 * one), its format, its pieces, and every piece file and tenant.json listed inside the backup.
 */
export function parseManifest(where: string, text: string, expectedManifestSha?: string | null): BackupManifest {
  if (expectedManifestSha && sha256Of(text) !== expectedManifestSha) throw corrupt(where, `${manifestFile} differs from the one recorded when the backup was made`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(text);
  } catch {
    throw corrupt(where, `${manifestFile} is not valid JSON (truncated?)`);
  }
  if (![backupFormat, backupFormatV1].includes(String(manifest?.format)) || typeof manifest.files !== 'object' || !manifest.files || typeof manifest.tenant !== 'string') {
    throw corrupt(where, `${manifestFile} is not a ${backupFormat} (or ${backupFormatV1}) manifest`);
  }
  if (String(manifest.format) === backupFormatV1) manifest = fromV1(manifest as unknown as ManifestV1);
  if (typeof manifest.pieces !== 'object' || !manifest.pieces || Object.keys(manifest.pieces).length === 0) throw corrupt(where, 'the manifest names no state pieces');
  for (const [name, piece] of Object.entries(manifest.pieces)) {
    if (!pieceKinds.includes(piece?.kind) || typeof piece.file !== 'string' || typeof piece.service !== 'string') throw corrupt(where, `the manifest's piece ${JSON.stringify(name)} is not a postgres, redis, sqlite or volume piece with a file`);
  }
  // A physical backup: its one physical piece is the PostgreSQL cluster (with its WAL tar when file-level).
  const physical = Object.entries(manifest.pieces).filter(([, p]) => p.method !== undefined);
  for (const [name, piece] of physical) {
    if (piece.method !== 'physical' || piece.kind !== 'postgres') throw corrupt(where, `the manifest's piece ${JSON.stringify(name)} is ${piece.kind} taken ${JSON.stringify(piece.method)}: only a postgres piece is taken physically`);
    if (piece.layout !== undefined && (piece.layout !== 'files' || typeof piece.wal !== 'string')) throw corrupt(where, `the manifest's physical piece ${JSON.stringify(name)} has layout ${JSON.stringify(piece.layout)} without its WAL tar`);
  }
  if (physical.length > 1) throw corrupt(where, `the manifest names ${physical.length} physical pieces (${physical.map(([n]) => n).join(', ')}): a physical backup takes one cluster`);
  const wals = physical.flatMap(([, p]) => (p.wal ? [p.wal] : []));
  for (const required of [...Object.values(manifest.pieces).map((p) => p.file), ...wals, tenantFile]) {
    if (!Object.hasOwn(manifest.files, required)) throw corrupt(where, `the manifest lists no ${required}`);
  }
  for (const name of Object.keys(manifest.files)) {
    if (path.basename(name) !== name) throw corrupt(where, `the manifest names ${JSON.stringify(name)}, outside the backup's folder`);
  }
  return manifest;
}

/** Why a file read back is not the one the manifest lists (its size, then its SHA-256), or undefined when it is. */
export function entryMismatch(name: string, entry: ManifestEntry, actual: ManifestEntry): string | undefined {
  if (actual.bytes !== entry.bytes) return `${name} is ${actual.bytes} bytes, the manifest says ${entry.bytes} (truncated?)`;
  if (actual.sha256 !== entry.sha256) return `${name} does not match its SHA-256 in the manifest (altered or damaged)`;
  return undefined;
}

interface ManifestV1 extends Omit<BackupManifest, 'format' | 'template' | 'pieces'> {
  postgres: { image: string; imageId: string; version: string };
  redis: { image: string; imageId: string };
}

/** A format 1 backup (crm's, before templates declared state) as the pieces crm declares now. */
function fromV1(v1: ManifestV1): BackupManifest {
  const { postgres, redis, ...rest } = v1;
  return {
    ...rest,
    format: backupFormat,
    template: 'crm',
    pieces: {
      db: { kind: 'postgres', service: 'db', file: dumpFile, image: postgres?.image ?? '', imageId: postgres?.imageId ?? '', version: postgres?.version },
      redis: { kind: 'redis', service: 'redis', file: redisFile, image: redis?.image ?? '', imageId: redis?.imageId ?? '' },
    },
  };
}
