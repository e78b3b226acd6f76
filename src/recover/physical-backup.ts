import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { resticQueryTimeoutMs } from '../common/timeouts.js';
import { physicalPieceOf, type BackupManifest, type ManifestEntry, type ManifestPiece } from '../backups/manifest.js';
import { snapshotPath } from '../backups/in-repository.js';
import { listingOf, listingProblem } from '../backups/data-listing.js';
import type { Repository } from '../repository/restic.js';
import { physicalSourceOf } from '../pitr/restore-physical.js';
import type { PhysicalSource } from '../pitr/restore-to-time.js';
import { piecesFitProblems } from '../backups/pieces-fit.js';
import type { Piece } from '../backups/pieces.js';

// A physical backup as recover takes it (backup --physical, or a plan whose backupMethod is
// physical: the tenant's PostgreSQL cluster, its data directory's files and the WAL to make them
// consistent). Recover provisions the tenant as for a logical backup and then puts the cluster in
// its data volume with the physical restore's own steps (pitr/restore-to-time.ts replaceWithTime).
// Here: whether such a backup is one recover can restore (pure), what it stages, and the check of a
// file-level data snapshot read back without its gigabytes (its listing, as the backup checked it).

/** The physical backup recover chose, as its journal keeps it. */
export interface PhysicalChoice {
  /** The manifest's physical piece (service, major, image, layout). */
  piece: ManifestPiece;
  /** What the restore stages (snapshots, paths, sizes, SHA-256s). */
  source: PhysicalSource;
  /** The manifest's time: the cluster comes back as it was when its backup ended. */
  createdAt: string;
}

/**
 * Why recover cannot restore this physical backup (undefined: it can, or it is not physical). Pure.
 * `pitr`: the tenant's plan has point-in-time recovery.
 */
export function physicalUnusable(manifest: Pick<BackupManifest, 'id' | 'tenant' | 'pieces'>, plan: { name: string; pitr: boolean }): string | undefined {
  const piece = physicalPieceOf(manifest);
  if (!piece) return undefined;
  // Other pieces beside the cluster (crm's Redis, taken the logical way) are put back by the same
  // steps (physical-other-pieces.ts); whether they fit the tenant recover provisions is asked apart (physicalPiecesProblem).
  // Its WAL archive continues the cluster's history: a physical copy started on that timeline would archive segments that clash with it.
  if (plan.pitr) return `physical, and plan ${plan.name} has point-in-time recovery: its WAL archive continues the lost cluster's history (a physical backup of a pitr plan is restored with --to-time)`;
  return undefined;
}

/**
 * Why a physical backup's pieces do not fit the tenant recover provisions (its template's state for
 * its profiles: `pieces`), else undefined. Pure. A restore puts back exactly the tenant's pieces:
 * every other piece of the backup must be one of them, and none of them missing.
 */
export function physicalPiecesProblem(manifest: Pick<BackupManifest, 'pieces' | 'tenant'>, pieces: readonly { name: string; kind: string }[]): string | undefined {
  const problems = piecesFitProblems(manifest.tenant, manifest.pieces, pieces.map((p) => ({ name: p.name, kind: p.kind as Piece['kind'] })));
  return problems.length > 0 ? `physical, and its pieces do not fit the tenant its template and profiles make now: ${problems.join('; ')}` : undefined;
}

/** The physical backup's piece and what the restore stages of it, from its verified manifest and snapshots. */
export function physicalChoiceOf(manifest: BackupManifest, snapshots: Record<string, string>): PhysicalChoice | undefined {
  const piece = physicalPieceOf(manifest);
  if (!piece) return undefined;
  const snapshotId = snapshots[piece.file];
  if (!snapshotId) throw new TenantctlError('usage', `backup ${manifest.id} is unusable: no snapshot of ${piece.file} (its physical piece) is in the repository`);
  return { piece, source: physicalSourceOf(manifest.id, manifest.tenant, piece, manifest, snapshots, snapshotId), createdAt: manifest.createdAt };
}

/** Whether `file` of this manifest is a file-level data snapshot (a folder in the repository, checked by its listing). */
export function isDataFolder(manifest: Pick<BackupManifest, 'pieces'>, file: string): boolean {
  const piece = physicalPieceOf(manifest);
  return piece?.layout === 'files' && piece.file === file;
}

/**
 * A file-level data snapshot read back as its listing (`restic ls`: tree blobs only, which restic
 * authenticates): its files' sizes and names must hash to the SHA-256 the manifest recorded, and
 * its bytes be the manifest's. Why not, else undefined. The restore checks the staged files against
 * the same listing again before it swaps anything in.
 */
export async function dataListingMismatch(ctx: Context, repo: Repository, snapshot: string, tenant: string, file: string, entry: ManifestEntry): Promise<string | undefined> {
  const ls = await repo.run(['ls', '--no-lock', '--json', snapshot], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
  const listing = listingOf(ls.stdout, `/${snapshotPath(tenant, file)}`);
  const problem = listingProblem(listing, { files: listing.files, bytes: entry.bytes });
  if (problem) return `${file}: ${problem}`;
  if (listing.sha256 !== entry.sha256) return `${file}'s listing in the repository (${listing.files} files) does not match the one its manifest recorded (altered or damaged)`;
  return undefined;
}
