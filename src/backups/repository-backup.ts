import type { Readable } from 'node:stream';
import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { resticQueryTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { recordAudit } from '../audit/write.js';
import type { AdminDb } from '../admin-db/database.js';
import { configuredRepository, type RepositoryLocation } from '../repository/location.js';
import { repositoryKey } from '../repository/password.js';
import { openRepository, type Repository } from '../repository/restic.js';
import { unlockWhenNoneHolds, holdRepository } from '../repository/hold.js';
import { BackupStore, heartbeatEveryMs } from './store.js';
import { snapshotPiece, checkPostgresDump, type SnapshotContext } from './piece-snapshots.js';
import { pieceContainer, type Piece } from './pieces.js';
import { physicalFile, pieceMethod, snapshotPhysical, type BackupMethod } from './physical-snapshot.js';
import { backupPhysicalFiles, fileLevelBlocker, NotFileLevel } from './physical-files.js';
import { backupFormat, manifestFile, sha256Of, tenantFile, type BackupManifest, type ManifestEntry } from './manifest.js';
import { forgetUnrecorded, readBack, repositoryRef, saveStream, saveText, type Digest, type SaveTarget } from './in-repository.js';

// A backup into the restic repository (backups.repository): the same pieces, checks, journal row,
// heartbeat and settlement as a folder backup (backup.ts), but each file streams straight into
// `restic backup --stdin` (in-repository.ts). A dump is recorded only after it was read back from
// the repository (`restic dump` piped into the tenant's own `pg_restore --list`). The row records
// each snapshot's id as it is written; it says succeeded only after every snapshot, tenant.json and
// the manifest are in the repository. A run that stops before that (an error, Ctrl-C, kill -9)
// never becomes a backup: its row is failed (by itself, or by the tenant's next backup, which holds
// the lock) and every snapshot tagged with its id, written whole or not, is forgotten by that next
// backup (forgetUnrecorded: only failed rows' snapshots of this host; a kind= snapshot, an unknown
// backup id or an untagged snapshot is never touched), never recorded.

export interface RepositoryBackupInput {
  id: string;
  backupId: string;
  template: { name: string };
  pieces: Piece[];
  snapshot: SnapshotContext;
  /** The tenant's record, modules, key hashes, deployment (backup.ts tenantDocument). */
  document: () => Promise<unknown>;
  /** physical: the one PostgreSQL piece of `pieces` taken physically (physical-files.ts), the others as a logical backup takes them (pieceMethod). Default logical. */
  method?: BackupMethod;
}

export interface RepositoryBackupOutput {
  directory: string;
  repository: string;
  snapshots: Record<string, string>;
  sizeBytes: number;
  files: Record<string, ManifestEntry>;
  dumpMBps: number;
  manifest: BackupManifest;
  /** A file-level physical backup: the data files restic saw, how many it skipped unchanged, what it added, the WAL segments copied. */
  physical?: { files: number; unmodified: number; addedBytes: number; walSegments: number };
  /** Said while it ran (a physical backup taken as a tar, and why). */
  warnings?: string[];
}

export function repositoryOf(ctx: Context): RepositoryLocation | undefined {
  return configuredRepository(ctx.config);
}

/** Writes the backup into the repository; the caller holds the tenant's lock and has started its state services. */
export async function backupIntoRepository(ctx: Context, db: AdminDb, location: RepositoryLocation, input: RepositoryBackupInput): Promise<RepositoryBackupOutput> {
  const repo = await openRepository(ctx);
  // restic backup --stdin cannot be retried once its stream began: a stale lock (a restic killed with
  // -9) goes first, but only while no tenantctl holds the repository (hold.ts: the agent's restic
  // shares this host's name, not its pids, and could look stale).
  await unlockWhenNoneHolds(db, location, () => repo.run(['unlock'], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal, onStderrLine: ctx.reporter.detail }));
  // Side by side with other backups, never while a forget/prune of this repository runs (hold.ts).
  const release = await holdRepository(db, location, 'shared');
  try {
    return await writeBackup(ctx, db, location, input, repo);
  } finally {
    await release();
  }
}

async function writeBackup(ctx: Context, db: AdminDb, location: RepositoryLocation, input: RepositoryBackupInput, repo: Repository): Promise<RepositoryBackupOutput> {
  const { id, backupId, pieces, snapshot } = input;
  const store = new BackupStore(db);
  const directory = repositoryRef(backupId);
  await store.start({ id: backupId, tenant: id, host: ctx.dockerHost.id, directory, repository: { key: repositoryKey(location), display: location.display } });
  const beat = setInterval(() => void store.heartbeat(backupId).catch(ignoreFailure("a missed heartbeat is harmless (the next one comes); the backup's own steps report the admin database failing")), heartbeatEveryMs);
  beat.unref();
  let recordedSucceeded = false;
  try {
    await ctx.pause('backup:running');
    // What a failed or killed earlier backup left in the repository goes first (never recorded as a backup).
    await forgetUnrecorded(ctx, repo, store, id, ctx.dockerHost.id, backupId);
    const target: SaveTarget = { repo, tenant: id, backupId, host: ctx.dockerHost.id };
    const files: Record<string, ManifestEntry> = {};
    const recorded: BackupManifest['pieces'] = {};
    const snapshots: Record<string, string> = {};
    let dumpMBps = 0;
    let physical: RepositoryBackupOutput['physical'];
    const warnings: string[] = [];
    const tarInstead = (why: string) => {
      warnings.push(`${why}: the physical backup of ${id} is a pg_basebackup tar, read whole each time`);
      ctx.reporter.info(`warning: ${warnings.at(-1)!}`);
    };
    for (const piece of pieces) {
      const method = pieceMethod(piece, input.method);
      const blocker = method === 'physical' ? await fileLevelBlocker(snapshot.ctx, repo) : undefined;
      if (blocker) tarInstead(blocker);
      const fileLevel = method === 'physical' && !blocker ? await backupPhysicalFiles(snapshot, piece, target, store).catch((error: unknown) => {
        if (!(error instanceof NotFileLevel)) throw error;
        tarInstead(error.message);
        return undefined;
      }) : undefined;
      if (fileLevel) {
        const taken = fileLevel;
        Object.assign(snapshots, { [taken.dataFile]: taken.data.snapshot, [taken.walFile]: taken.wal.snapshot });
        files[taken.dataFile] = { bytes: taken.data.bytes, sha256: taken.data.listingSha256 };
        files[taken.walFile] = { bytes: taken.wal.bytes, sha256: taken.wal.sha256 };
        recorded[piece.name] = { kind: piece.kind, service: piece.service, file: taken.dataFile, image: taken.image, imageId: taken.imageId, version: taken.version, method: 'physical', major: taken.major, layout: 'files', wal: taken.walFile };
        physical = { files: taken.data.files, unmodified: taken.data.unmodified, addedBytes: taken.data.added, walSegments: taken.wal.segments };
        continue;
      }
      if (method === 'physical') {
        const taken = await savePhysical(ctx, target, store, snapshot, piece, location, snapshots);
        files[taken.file] = { bytes: taken.bytes, sha256: taken.sha256 };
        recorded[piece.name] = { kind: piece.kind, service: piece.service, file: taken.file, image: taken.image, imageId: taken.imageId, version: taken.version, method: 'physical', major: taken.major };
        dumpMBps = taken.mbps;
        continue;
      }
      ctx.reporter.step(`streaming ${piece.name} of ${id} into ${location.display}`);
      const pieceStarted = ctx.clock.now();
      const { result: taken, snapshot: snap } = await saveStream(ctx, target, piece.file, (sink) => snapshotPiece(snapshot, piece, sink));
      snapshots[piece.file] = snap;
      await store.addSnapshot(backupId, piece.file, snap);
      // The snapshot is in the repository, not yet checked or recorded: where e2e tests kill a repository backup.
      await ctx.pause('backup:piece-saved');
      // Every piece's snapshot is read back whole and hashed (a dump also through the tenant's pg_restore --list): what the repository holds is what went in.
      const back: Digest = { bytes: 0, sha256: '' };
      if (piece.kind === 'postgres') {
        dumpMBps = taken.bytes / 1e6 / Math.max(0.001, (ctx.clock.now() - pieceStarted) / 1000);
        ctx.reporter.step(`reading the dump of ${piece.name} back from the repository (pg_restore --list)`);
        const container = await pieceContainer(snapshot.ctx, snapshot.project, piece);
        await readBack(ctx, repo, snap, id, piece.file, async (source) => {
          await checkPostgresDump(snapshot, container.id, piece, source);
          return { exitCode: 0 };
        }, back);
      } else {
        ctx.reporter.step(`reading ${piece.file} of ${piece.name} back from the repository`);
        await readBack(ctx, repo, snap, id, piece.file, drain, back);
      }
      if (back.bytes !== taken.bytes || back.sha256 !== taken.sha256) {
        throw new TenantctlError('repository', `${piece.file} of ${piece.name} read back from ${location.display} is not the one written (${back.bytes} bytes, ${taken.bytes} written): not recorded as a backup`);
      }
      files[piece.file] = { bytes: taken.bytes, sha256: taken.sha256 };
      recorded[piece.name] = { kind: piece.kind, service: piece.service, file: piece.file, image: taken.image, imageId: taken.imageId, ...(taken.version ? { version: taken.version } : {}) };
    }

    ctx.reporter.step(`recording ${id}'s record, modules and key hashes`);
    const tenantJson = `${JSON.stringify(await input.document(), null, 2)}\n`;
    snapshots[tenantFile] = await saveText(ctx, target, tenantFile, tenantJson);
    await checkText(ctx, repo, snapshots[tenantFile]!, id, tenantFile, tenantJson, location);
    await store.addSnapshot(backupId, tenantFile, snapshots[tenantFile]!);
    files[tenantFile] = { bytes: Buffer.byteLength(tenantJson), sha256: sha256Of(tenantJson) };
    const manifest: BackupManifest = {
      format: backupFormat, id: backupId, tenant: id, createdAt: new Date(ctx.clock.now()).toISOString(), host: ctx.dockerHost.id,
      template: input.template.name, pieces: recorded, files,
    };
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    snapshots[manifestFile] = await saveText(ctx, target, manifestFile, manifestText);
    await checkText(ctx, repo, snapshots[manifestFile]!, id, manifestFile, manifestText, location);
    await store.addSnapshot(backupId, manifestFile, snapshots[manifestFile]!);
    // Every snapshot written and checked, the row not yet succeeded: a kill here is still no backup.
    await ctx.pause('backup:written');
    const sizeBytes = Object.values(files).reduce((sum, f) => sum + f.bytes, 0) + Buffer.byteLength(manifestText);
    await store.succeed(backupId, { directory, sizeBytes, manifestSha256: sha256Of(manifestText), manifest });
    recordedSucceeded = true;
    await db.withTransaction((client) => recordAudit(db, client, id, 'backup.created', null, { backup: backupId, repository: location.display, snapshots, sizeBytes, pieces: pieces.map((p) => p.name) }));
    return { directory, repository: location.display, snapshots, sizeBytes, files, dumpMBps, manifest, ...(physical ? { physical } : {}), ...(warnings.length ? { warnings } : {}) };
  } catch (error) {
    if (!recordedSucceeded) {
      await store.fail(backupId, messageOf(error)).catch(ignoreFailure("the backup's own error is the one thrown; a row that cannot say failed now is settled as killed by the next backup"));
      // Its snapshots go now when the repository answers (Ctrl-C too: a signal of its own); else the tenant's next backup forgets them.
      const quiet: Context = { ...ctx, signal: new AbortController().signal };
      await forgetUnrecorded(quiet, repo, store, id, ctx.dockerHost.id).catch(ignoreFailure("the backup's own error is the one thrown; snapshots not forgotten now are forgotten by the tenant's next backup"));
    }
    throw error;
  } finally {
    clearInterval(beat);
  }
}


/**
 * A physical piece (pg_basebackup's tar) streamed into the repository, recorded on the row as soon
 * as restic wrote it, then read back whole and hashed: what the repository holds is what went in.
 */
async function savePhysical(ctx: Context, target: SaveTarget, store: BackupStore, snapshot: SnapshotContext, piece: Piece, location: RepositoryLocation, snapshots: Record<string, string>) {
  const file = physicalFile(piece);
  ctx.reporter.step(`streaming a physical backup of ${piece.name} of ${target.tenant} (pg_basebackup) into ${location.display}`);
  const started = ctx.clock.now();
  const { result: taken, snapshot: snap } = await saveStream(ctx, target, file, (sink) => snapshotPhysical(snapshot, piece, sink));
  const mbps = taken.bytes / 1e6 / Math.max(0.001, (ctx.clock.now() - started) / 1000);
  snapshots[file] = snap;
  await store.addSnapshot(target.backupId, file, snap);
  // The cluster's tar is in the repository, not yet read back or recorded: where e2e tests kill a physical backup.
  await ctx.pause('backup:physical-saved');
  ctx.reporter.step(`reading the physical backup of ${piece.name} back from the repository`);
  const back: Digest = { bytes: 0, sha256: '' };
  await readBack(ctx, target.repo, snap, target.tenant, file, drain, back);
  if (back.bytes !== taken.bytes || back.sha256 !== taken.sha256) {
    throw new TenantctlError('repository', `${file} of ${piece.name} read back from ${location.display} is not the one written (${back.bytes} bytes, ${taken.bytes} written): not recorded as a backup`);
  }
  return { file, bytes: taken.bytes, sha256: taken.sha256, image: taken.image, imageId: taken.imageId, version: taken.version, major: taken.major, mbps };
}

/** Reads a snapshot to its end (readBack hashes it on the way). */
const drain = async (source: Readable) => {
  for await (const _chunk of source) { /* hashed by readBack */ }
  return {};
};

/** tenant.json and manifest.json read back whole and compared with what was written. */
export async function checkText(ctx: Context, repo: Repository, snapshot: string, tenant: string, file: string, text: string, location: RepositoryLocation): Promise<void> {
  const back: Digest = { bytes: 0, sha256: '' };
  await readBack(ctx, repo, snapshot, tenant, file, drain, back);
  if (back.bytes !== Buffer.byteLength(text) || back.sha256 !== sha256Of(text)) {
    throw new TenantctlError('repository', `${file} read back from ${location.display} is not the one written (${back.bytes} bytes, ${Buffer.byteLength(text)} written): not recorded as a backup`);
  }
}
