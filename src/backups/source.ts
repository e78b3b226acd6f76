import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { failureMeans } from '../common/ignore-failure.js';
import type { StreamSource } from '../engine/docker-stream.js';
import { openRepository } from '../repository/restic.js';
import { BackupStore } from './store.js';
import { corrupt, manifestFile, parseManifest, sha256Of, type BackupManifest } from './manifest.js';
import { backupIdOfRef, isRepositoryRef, readBack, readText } from './in-repository.js';

// Where a restore reads a backup from, by the `dir` its journal keeps: a backup folder (files read
// from disk), or `repository:<backup id>` (each file streamed out of the restic repository with
// `restic dump`, never copied to local disk first).

/** Runs `use` with a file's bytes as a stream source (a path, or restic dump's output). */
export type WithInput = <T extends { exitCode?: number }>(use: (source: StreamSource) => Promise<T>) => Promise<T>;

export interface BackupReader {
  /** The manifest (a folder's file; a repository backup's as recorded). */
  manifest(): Promise<Partial<BackupManifest>>;
  /** A small file's text (tenant.json). */
  text(file: string): Promise<string>;
  input(file: string): WithInput;
}

export async function backupReader(ctx: Context, dir: string): Promise<BackupReader> {
  if (!isRepositoryRef(dir)) {
    return {
      manifest: async () => JSON.parse(await readFile(path.join(dir, manifestFile), 'utf8').catch(failureMeans('{}', 'no readable manifest: read as format 1 (db.dump, redis.rdb), whose files the restore then opens'))) as Partial<BackupManifest>,
      text: (file) => readFile(path.join(dir, file), 'utf8'),
      input: (file) => (use) => use(path.join(dir, file)),
    };
  }
  const backupId = backupIdOfRef(dir);
  const record = await new BackupStore(await ctx.adminDb()).get(backupId);
  if (!record || record.repository === null) throw new TenantctlError('notFound', `no repository backup ${backupId} in the admin database`);
  const repo = await openRepository(ctx);
  const snapshotOf = (file: string) => {
    const snapshot = record.snapshots[file];
    if (!snapshot) throw corrupt(backupId, `no snapshot of ${file} is recorded for it`);
    return snapshot;
  };
  return {
    manifest: async () => record.manifest ?? {},
    text: (file) => readText(ctx, repo, snapshotOf(file), record.tenant, file),
    input: (file) => (use) => readBack(ctx, repo, snapshotOf(file), record.tenant, file, use),
  };
}

/**
 * A repository backup's manifest, read back from the repository and checked against the SHA-256
 * recorded when it was made (restic authenticates every blob it returns; this proves the
 * snapshots are the ones recorded).
 */
export async function verifyRepositoryBackup(ctx: Context, backupId: string, expectedSha: string | null): Promise<BackupManifest> {
  const record = await new BackupStore(await ctx.adminDb()).get(backupId);
  if (!record || record.repository === null) throw new TenantctlError('notFound', `no repository backup ${backupId} in the admin database`);
  const snapshot = record.snapshots[manifestFile];
  if (!snapshot) throw corrupt(backupId, `no snapshot of ${manifestFile} is recorded for it`);
  const text = await readText(ctx, await openRepository(ctx), snapshot, record.tenant, manifestFile);
  if (expectedSha && sha256Of(text) !== expectedSha) throw corrupt(backupId, `its ${manifestFile} in the repository differs from the one recorded when it was made`);
  // The manifest's own checks (format, pieces, one physical piece that is the postgres one with its WAL tar, names in the folder), as recover reads it.
  const manifest = parseManifest(backupId, text);
  for (const file of Object.keys(manifest.files)) if (!record.snapshots[file]) throw corrupt(backupId, `no snapshot of ${file} is recorded for it`);
  return manifest;
}
