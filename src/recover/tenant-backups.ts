import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { BackupStore } from '../backups/store.js';
import { locateAndVerify } from '../backups/restore.js';
import { entryMismatch, manifestFile, parseManifest, physicalPieceOf, sha256Of, type BackupManifest } from '../backups/manifest.js';
import { readBack, readText, repositoryRef, tenantSnapshots, type Digest } from '../backups/in-repository.js';
import { repositoryKey } from '../repository/password.js';
import type { Repository } from '../repository/restic.js';
import { backupCandidates, consideredBackups, type BackupCandidate, type BackupOrigin, type ConsideredBackup, type SkippedBackup } from './backup-candidates.js';

// Where recover finds each tenant's backup: the newest one, in the repository or recorded by the
// restored admin database, that is complete and verifies (backup-candidates.ts says which are
// candidates; here each is read back, newest first, until one passes). A repository backup's
// manifest is read back (against the SHA-256 the admin database recorded, when it did) and every
// file it lists is read back whole and compared with its size and SHA-256 in the manifest; the
// manifest must name this tenant, this host and this backup id. The chosen one, when the admin
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
    const passed: SkippedBackup[] = [...skipped];
    const verdicts = new Map<string, 'chosen' | { passedOver: string }>();
    for (const candidate of candidates) {
      try {
        const dir = await verifyCandidate(ctx, scope, id, candidate);
        if (candidate.origin === 'repository' && !foundByRecover.has(candidate.backup)) await recordFound(ctx, scope, id, candidate, dir.manifest, dir.manifestText);
        const newerThanAdminSnapshotMs = Date.parse(candidate.time) - Date.parse(scope.adminSnapshotTime);
        verdicts.set(candidate.backup, 'chosen');
        const bytes = dir.manifest ? Object.values(dir.manifest.files).reduce((sum, f) => sum + f.bytes, 0) : ((await store.get(candidate.backup))?.sizeBytes ?? null);
        return { id: candidate.backup, dir: dir.dir, origin: candidate.origin, time: candidate.time, newerThanAdminSnapshotMs, skipped: passed, considered: consideredBackups(candidates, skipped, verdicts), bytes };
      } catch (error) {
        if (ctx.signal.aborted || !(error instanceof TenantctlError) || !['usage', 'notFound', 'repository'].includes(error.kind)) throw error;
        ctx.reporter.info(`${id}: backup ${candidate.backup} passed over: ${messageOf(error)}`);
        passed.push({ backup: candidate.backup, reason: messageOf(error) });
        verdicts.set(candidate.backup, { passedOver: messageOf(error) });
      }
    }
    return passed.length > 0 ? { skipped: passed, considered: consideredBackups(candidates, skipped, verdicts) } : undefined;
  },
};

interface Verified { dir: string; manifest?: BackupManifest; manifestText?: string }

async function verifyCandidate(ctx: Context, scope: BackupScope, tenant: string, c: BackupCandidate): Promise<Verified> {
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
  const physical = physicalPassOver(manifest, tenant);
  if (physical) throw new TenantctlError('usage', physical);
  const unlisted = Object.keys(c.snapshots).filter((f) => f !== manifestFile && !Object.hasOwn(manifest.files, f));
  if (unlisted.length > 0) throw corrupt(`snapshots of ${unlisted.join(', ')} carry its tag but its manifest lists no such file`);
  for (const [file, entry] of Object.entries(manifest.files)) {
    const snapshot = c.snapshots[file];
    if (!snapshot) throw corrupt(`no snapshot of ${file} (listed in its manifest) is in the repository`);
    const back: Digest = { bytes: 0, sha256: '' };
    await readBack(ctx, scope.repo, snapshot, tenant, file, drain, back);
    const wrong = entryMismatch(file, entry, back);
    if (wrong) throw corrupt(wrong);
  }
  return { dir: repositoryRef(c.backup), manifest, manifestText };
}

/**
 * Recover restores a tenant's data the logical way (pg_restore of a dump): a physical backup (the
 * cluster's files or pg_basebackup's tar) is passed over, with how to restore it by hand, never fed
 * to pg_restore.
 */
export function physicalPassOver(manifest: Pick<BackupManifest, 'id' | 'pieces'>, tenant: string): string | undefined {
  if (!physicalPieceOf(manifest)) return undefined;
  return `physical: restore it with \`tenantctl restore ${tenant} --from ${manifest.id}\``;
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
