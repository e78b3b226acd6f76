import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { BackupStore } from '../backups/store.js';
import { locateAndVerify } from '../backups/restore.js';
import { entryMismatch, manifestFile, parseManifest, physicalPieceOf, sha256Of, type BackupManifest, type ManifestPiece } from '../backups/manifest.js';
import { readBack, readText, repositoryRef, tenantSnapshots, type Digest } from '../backups/in-repository.js';
import { repositoryKey } from '../repository/password.js';
import type { Repository } from '../repository/restic.js';
import { backupCandidates, chooseNewestUsable, consideredBackups, type BackupCandidate, type BackupOrigin, type ConsideredBackup, type SkippedBackup } from './backup-candidates.js';
import { dataListingMismatch, isDataFolder, physicalChoiceOf, physicalUnusable, type PhysicalChoice } from './physical-backup.js';

// Where recover finds each tenant's backup: the newest one, in the repository or recorded by the
// restored admin database, that is complete and verifies, logical or physical alike
// (backup-candidates.ts says which are candidates; here each is read back, newest first, until one
// passes). A repository backup's manifest is read back (against the SHA-256 the admin database
// recorded, when it did) and every file it lists is read back whole and compared with its size and
// SHA-256 in the manifest (a physical backup's file-level data snapshot by its listing: tree blobs,
// not its gigabytes; physical-backup.ts); the manifest must name this tenant, this host and this
// backup id. A physical backup recover cannot restore (a plan with pitr, pieces that do not fit the
// tenant its template and profiles make, a PostgreSQL image of another major) is passed over with
// why, and the next one read; one found in the repository alone is recorded all the same. The chosen one, when the admin
// database did not record it as succeeded, is recorded there (admin_backups, and an audit row)
// before recover's journal names it: restore reads a repository backup through its row.

export interface TenantBackup {
  /** The backup's id (admin_backups, and the repository's snapshots' backup= tag). */
  id: string;
  /** A verified backup folder, or repository:<id>. */
  dir: string;
  origin: BackupOrigin;
  /** When its last file was written. */
  time: string;
  /** How much newer than the admin snapshot recover restored (negative: older). */
  newerThanAdminSnapshotMs: number;
  /** Newer candidates passed over, each with why. */
  skipped: SkippedBackup[];
  /** Every backup looked at, chosen or not, with why (the summary's `considered`). */
  considered: ConsideredBackup[];
  /** What its files hold (the manifest's sizes, or the folder backup's recorded size): the fit check's measure. */
  bytes: number | null;
  /** logical: pg_restore of its dumps (backups/restore.ts); physical: the cluster's files put in the data volume. */
  method: 'logical' | 'physical';
  /** A physical backup: its piece and what the restore stages. */
  physical?: PhysicalChoice;
}

export interface BackupScope {
  /** The repository recover reads (its --repository). */
  repo: Repository;
  /** The host the tenant's record names: the restic host its backups were written as. */
  host: string;
  /** The admin snapshot's time (restic's). */
  adminSnapshotTime: string;
  /** The recovery run, for the audit row of a backup it records. */
  run: string;
  /** The tenant's plan (whether it has pitr decides whether a physical backup may be restored). */
  plan?: { name: string; pitr: boolean };
  /**
   * Why a physical backup cannot be restored into the tenant recover provisions (its pieces against
   * the template's and profiles', the major of the template's PostgreSQL image), else undefined:
   * part of a candidate's verification, so such a backup is passed over and an older one chosen.
   */
  physicalProblem?: (manifest: BackupManifest, piece: ManifestPiece) => Promise<string | undefined>;
}

export interface TenantBackupSource {
  /** The newest backup of the tenant that verifies, or undefined when there is none (with why each candidate was passed over). */
  latest(ctx: Context, id: string, scope: BackupScope): Promise<TenantBackup | { skipped: SkippedBackup[]; considered: ConsideredBackup[] } | undefined>;
}

export const repositoryBackups: TenantBackupSource = {
  async latest(ctx, id, scope) {
    const db = await ctx.adminDb();
    const store = new BackupStore(db);
    const recorded = await store.list({ tenant: id, includePruned: true });
    const snapshots = (await tenantSnapshots(ctx, scope.repo, id)) ?? [];
    const found = await db.pool.query(
      "SELECT new_values->>'backup' AS backup FROM admin_audit_logs WHERE customer_id = $1 AND action = 'backup.found-by-recover'", [id],
    ).catch(db.unreachable);
    const foundByRecover = new Set<string>(found.rows.map((r) => r.backup));
    const hosts = await db.pool.query('SELECT name FROM admin_hosts').catch(db.unreachable);
    const knownHosts = hosts.rows.map((r) => r.name as string);
    const { candidates, skipped } = backupCandidates({ tenant: id, host: scope.host, knownHosts, snapshots, recorded, foundByRecover });
    const { chosen, verdicts, passed } = await chooseNewestUsable(candidates, async (candidate) => {
      // A repository backup passed over as physical (its plan, pieces or major) is still recorded: restore --from reads it through its row.
      const record = candidate.origin === 'repository' && !foundByRecover.has(candidate.backup)
        ? (manifest: BackupManifest, text: string) => recordFound(ctx, scope, id, candidate, manifest, text) : undefined;
      const verified = await verifyCandidate(ctx, scope, id, candidate, record);
      return { ...verified, method: verified.physical ? 'physical' as const : 'logical' as const };
    }, (error) => {
      if (ctx.signal.aborted || !(error instanceof TenantctlError) || !['usage', 'notFound', 'repository'].includes(error.kind)) return undefined;
      return messageOf(error);
    });
    for (const p of passed) ctx.reporter.info(`${id}: backup ${p.backup} passed over: ${p.reason}`);
    const considered = consideredBackups(candidates, skipped, verdicts);
    if (!chosen) return passed.length + skipped.length > 0 ? { skipped: [...skipped, ...passed], considered } : undefined;
    const { candidate, value: dir } = chosen;
    if (candidate.origin === 'repository' && !foundByRecover.has(candidate.backup)) await recordFound(ctx, scope, id, candidate, dir.manifest, dir.manifestText);
    const newerThanAdminSnapshotMs = Date.parse(candidate.time) - Date.parse(scope.adminSnapshotTime);
    // Every file the manifest lists, a physical backup's data files and WAL tar included: the fit check's measure.
    const bytes = dir.manifest ? Object.values(dir.manifest.files).reduce((sum, f) => sum + f.bytes, 0) : ((await store.get(candidate.backup))?.sizeBytes ?? null);
    return {
      id: candidate.backup, dir: dir.dir, origin: candidate.origin, time: candidate.time, newerThanAdminSnapshotMs, skipped: [...skipped, ...passed], considered, bytes,
      method: dir.method, ...(dir.physical ? { physical: dir.physical } : {}),
    };
  },
};

/**
 * Why recover cannot restore this backup as the physical backup it is (its plan has pitr; its pieces
 * or its major do not fit the tenant recover provisions: scope.physicalProblem), else undefined
 * (usable, or a logical backup). Part of a candidate's verification: chooseNewestUsable passes it over.
 */
export async function physicalCheck(manifest: BackupManifest, scope: Pick<BackupScope, 'plan' | 'physicalProblem'>): Promise<string | undefined> {
  const piece = physicalPieceOf(manifest);
  if (!piece) return undefined;
  return physicalUnusable(manifest, scope.plan ?? { name: '?', pitr: false }) ?? await scope.physicalProblem?.(manifest, piece);
}

interface Verified { dir: string; manifest?: BackupManifest; manifestText?: string; physical?: PhysicalChoice }

async function verifyCandidate(ctx: Context, scope: BackupScope, tenant: string, c: BackupCandidate, record?: (manifest: BackupManifest, text: string) => Promise<void>): Promise<Verified> {
  if (c.directory !== undefined) {
    // A folder backup recorded by the admin database: only when the folder survived.
    if (!(await stat(c.directory).then((s) => s.isDirectory(), () => false))) throw new TenantctlError('notFound', `its folder ${c.directory} is not on this machine`);
    return { dir: (await locateAndVerify(ctx, c.backup)).dir };
  }
  const where = `${c.backup} in ${scope.repo.location.display}`;
  ctx.reporter.step(`verifying backup ${where}: its manifest and every file read back (sizes and SHA-256)`);
  const manifestText = await readText(ctx, scope.repo, c.snapshots[manifestFile]!, tenant, manifestFile);
  const manifest = parseManifest(where, manifestText, c.manifestSha256);
  const corrupt = (why: string) => new TenantctlError('usage', `backup ${where} is unusable: ${why}`);
  if (manifest.id !== c.backup || manifest.tenant !== tenant) throw corrupt(`its manifest names backup ${manifest.id} of ${manifest.tenant}`);
  // The host it was written on (a tenant moved since the admin snapshot was backed up on its new one).
  const writtenOn = c.host ?? scope.host;
  if (manifest.host !== undefined && manifest.host !== writtenOn) throw corrupt(`its manifest names host ${manifest.host}, not ${writtenOn}`);
  const unusable = await physicalCheck(manifest, scope);
  // Passed over at once when the admin database records it; one found in the repository alone is read back first, to be recorded.
  if (unusable && !record) throw new TenantctlError('usage', unusable);
  const unlisted = Object.keys(c.snapshots).filter((f) => f !== manifestFile && !Object.hasOwn(manifest.files, f));
  if (unlisted.length > 0) throw corrupt(`snapshots of ${unlisted.join(', ')} carry its tag but its manifest lists no such file`);
  for (const [file, entry] of Object.entries(manifest.files)) {
    const snapshot = c.snapshots[file];
    if (!snapshot) throw corrupt(`no snapshot of ${file} (listed in its manifest) is in the repository`);
    let wrong: string | undefined;
    if (isDataFolder(manifest, file)) wrong = await dataListingMismatch(ctx, scope.repo, snapshot, tenant, file, entry);
    else {
      const back: Digest = { bytes: 0, sha256: '' };
      await readBack(ctx, scope.repo, snapshot, tenant, file, drain, back);
      wrong = entryMismatch(file, entry, back);
    }
    if (wrong) throw corrupt(wrong);
  }
  if (unusable) {
    await record!(manifest, manifestText);
    throw new TenantctlError('usage', `${unusable} (recorded: restore --from ${c.backup} reads it)`);
  }
  const physical = physicalChoiceOf(manifest, c.snapshots);
  return { dir: repositoryRef(c.backup), manifest, manifestText, ...(physical ? { physical } : {}) };
}

const drain = async (source: Readable) => {
  for await (const _chunk of source) { /* hashed by readBack */ }
  return {};
};

/**
 * A backup the admin snapshot did not know as succeeded (taken after it, or running when it was
 * taken), recorded as the backup it is: its row (new, or the running one completed) with its
 * snapshots and manifest, and an audit row naming the recovery run. Idempotent: a recover run
 * again finds it recorded.
 */
async function recordFound(ctx: Context, scope: BackupScope, tenant: string, c: BackupCandidate, manifest: BackupManifest | undefined, manifestText: string | undefined): Promise<void> {
  if (!manifest || manifestText === undefined) throw new TenantctlError('internal', `backup ${c.backup} was verified without its manifest`);
  const db = await ctx.adminDb();
  const sizeBytes = Object.values(manifest.files).reduce((sum, f) => sum + f.bytes, 0) + Buffer.byteLength(manifestText);
  // The manifest is written last: its createdAt is close to the run's end; the row keeps it as the start it cannot know better.
  const started = Number.isNaN(Date.parse(manifest.createdAt)) ? c.time : manifest.createdAt;
  await db.withTransaction(async (client) => {
    await client.query(
      `INSERT INTO admin_backups (id, customer_id, host, directory, state, created_by, repository, repository_display, snapshots, size_bytes, manifest_sha256, manifest, started_at, finished_at)
       VALUES ($1, $2, $3, $4, 'succeeded', $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (id) DO UPDATE SET state = 'succeeded', reason = NULL, directory = $4, repository = $6, repository_display = $7, snapshots = $8,
         size_bytes = $9, manifest_sha256 = $10, manifest = $11, heartbeat_at = now(), finished_at = $13
       WHERE admin_backups.customer_id = $2 AND admin_backups.state IN ('running', 'succeeded')`,
      [c.backup, tenant, scope.host, repositoryRef(c.backup), db.actor, repositoryKey(scope.repo.location), scope.repo.location.display,
        JSON.stringify(c.snapshots), sizeBytes, sha256Of(manifestText), JSON.stringify(manifest), started, c.time],
    );
    await recordAudit(db, client, tenant, 'backup.found-by-recover', null, { backup: c.backup, run: scope.run, repository: scope.repo.location.display, time: c.time, newerThanAdminSnapshotMs: Date.parse(c.time) - Date.parse(scope.adminSnapshotTime) });
  });
}
