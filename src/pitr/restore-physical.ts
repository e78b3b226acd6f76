import { randomBytes } from 'node:crypto';
import type { Context } from '../context.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { holdTenant } from '../tenants/hold.js';
import { requireTenantFor } from '../tenants/day2-target.js';
import { OperationJournal } from '../operations/journal.js';
import { BackupStore } from '../backups/store.js';
import { corrupt, physicalPieceOf, tenantFile, type BackupManifest, type ManifestPiece } from '../backups/manifest.js';
import { verifyRepositoryBackup } from '../backups/source.js';
import { otherPieceFiles, requirePhysicalFit } from '../backups/physical-other-pieces.js';
import { snapshotPath } from '../backups/in-repository.js';
import type { TenantDocument } from '../backups/restore.js';
import { configuredTemplate } from '../templates/configured.js';
import { pitrService } from '../templates/wal-archive.js';
import { requireRunning } from '../backups/containers.js';
import { declaredPieces } from '../backups/pieces.js';
import { pitrOn } from './backup.js';
import { superuserSql } from './archive.js';
import { openPitrRepository } from './repo.js';
import { completePitr, replaceWithTime, stackOf, undoAfterFailure, type PitrIntent, type PhysicalSource } from './restore-to-time.js';
import { imageMajor, majorMismatch, templateServiceImage } from './image-major.js';
import { modulesOfDocument, physicalBackupDocument } from './backup-document.js';

// `tenantctl restore <id> --from <physical backup> [--as <new-id>]`: a physical backup (backup
// --physical: the whole PostgreSQL cluster, its files or pg_basebackup's tar, with its WAL) put back by the
// to-time restore's steps (restore-to-time.ts, journaled as verb pitr-restore with the backup in
// its intent, so a killed run is undone or finished the same way): the tar staged in the data volume
// beside the live cluster, the database service stopped, the volume's content swapped, the stack
// started (PostgreSQL replays the WAL inside the backup to its end) and proven ready, the replaced
// cluster dropped. The restore replaces the whole cluster, every database of it, and needs the same
// major version (checked before anything). The backup's other pieces (crm's Redis, taken as a
// logical backup takes them) go back in the same operation, staged and swapped as a logical restore
// does (src/backups/physical-other-pieces.ts); the backup must hold exactly the tenant's pieces.
// In place, the source runs and says what the cluster runs under. Into a new tenant (--as, or the
// source's own id once it is deprovisioned) the backup alone says it: its tenant.json the template,
// plan and profiles to provision, its manifest the major, compared with the template's image; the
// source may be stopped, suspended or gone. Either way the modules its tenant.json records go into
// the intent before the first effect and are set back once the restore is proven (completePitr),
// as a logical restore sets them: a finish after a kill needs nothing of the backup, an undo leaves them.

export interface PhysicalRestoreInput {
  id: unknown;
  from: string;
  as?: unknown;
  yes?: boolean;
  confirm?: (question: string) => Promise<boolean>;
}

export interface PhysicalRestoreResult {
  id: string;
  from: string;
  source: string;
  method: 'physical';
  mode: 'in-place' | 'new';
  /** The backup's time: the cluster is as it was when its pg_basebackup ended. */
  backupTime: string;
  url: string | null;
  initialApiKey?: { id: string; prefix: string; key: string };
  durationMs: number;
  /** The backup's pieces put back beside the cluster (crm's redis), by name. */
  others: string[];
  /** Modules switched to the backup's state once the restore was proven (as a logical restore's: `<key> on|off`). */
  modulesChanged: string[];
  /** What the restore set aside and could not drop once the tenant was proven (the restored state is in place): to remove by hand. */
  leftBehind?: string[];
}

/** Whether --from names a physical backup in the admin database (a folder or an unknown id is not). */
export async function isPhysicalBackup(ctx: Context, from: string): Promise<boolean> {
  if (from.includes('/') || from.startsWith('.')) return false;
  const record = await new BackupStore(await ctx.adminDb()).get(from);
  return record?.manifest ? physicalPieceOf(record.manifest) !== undefined : false;
}

export async function restorePhysical(ctx: Context, input: PhysicalRestoreInput): Promise<PhysicalRestoreResult> {
  const started = ctx.clock.now();
  const source = parseTenantId(input.id);
  const target = input.as === undefined ? source : parseTenantId(input.as);
  const db = await ctx.adminDb();
  const release = await holdTenant(ctx, target);
  try {
    const record = await new BackupStore(db).get(input.from);
    if (!record) throw new TenantctlError('notFound', `no backup ${input.from} in the admin database (tenantctl backups lists them)`);
    if (record.state !== 'succeeded') throw corrupt(input.from, `it is recorded as ${record.state}${record.reason ? ` (${record.reason})` : ''}`);
    if (record.tenant !== source) throw usageError(`backup ${input.from} is of tenant ${record.tenant}, not ${source}; use tenantctl restore ${record.tenant} --from ${input.from}${input.as === undefined ? ` --as ${source}` : ''}`);
    ctx.reporter.step(`verifying backup ${input.from} in ${record.repositoryDisplay} (its manifest against the SHA-256 recorded)`);
    const manifest = await verifyRepositoryBackup(ctx, input.from, record.manifestSha256);
    const piece = physicalPieceOf(manifest);
    const snapshotId = piece ? record.snapshots[piece.file] : undefined;
    if (!piece || !snapshotId) throw corrupt(input.from, 'its manifest names no physical piece with a snapshot');

    const registry = new TenantRegistry(db);
    const existing = await registry.get(target);
    let mode: PitrIntent['mode'] = 'in-place';
    // A new tenant: --as, or the source's own id when it is gone (deprovisioned, or no row at all).
    if (target !== source || !existing || existing.status === 'deprovisioned') {
      const made = target === source ? `${target} is deprovisioned and the restore provisions it again` : 'restore --as makes a new tenant';
      if (existing && existing.status !== 'deprovisioned') throw new TenantctlError('conflict', `tenant ${target} exists (${existing.status}); ${made}: choose an id that is free`);
      if (existing?.keptData) throw new TenantctlError('conflict', `tenant ${target} has kept data; ${made}: choose an id that is free, or restore a logical backup onto its kept data (--replace-kept-data)`);
      mode = 'new';
    }
    // In place the source runs (its template and server say what the restored cluster runs under);
    // a new tenant is what the backup was made of (whatever became of the source since).
    const running = mode === 'in-place' ? (await requireTenantFor(ctx, source, 'be restored from a physical backup', ['active'])).record : undefined;
    // The backup's tenant.json: a new tenant's shape (read now), and (either mode) the modules set
    // back once proven (in place read after the cheap refusals below: it comes out of the repository).
    let document = mode === 'new' ? await physicalBackupDocument(ctx, input.from, manifest) : undefined;
    const shape = running ?? await shapeOfBackup(ctx, input.from, manifest, piece, document!);
    // A PITR tenant's archive holds WAL of the cluster's history: a physical copy started on that same
    // timeline would archive segments that clash with it. A to-time restore promotes onto a new one.
    if (pitrOn(ctx, shape.plan)) throw new TenantctlError('conflict', `${mode === 'in-place' ? `tenant ${source} is` : `backup ${input.from} was taken`} on plan ${shape.plan}, which has point-in-time recovery: restore it with --to-time ${manifest.createdAt} (its physical backups restore only without pitr)`);
    if (mode === 'in-place') await requireSameMajor(ctx, source, piece);
    else await requireImageMajor(ctx, input.from, shape.template, piece);
    // In place the source's pieces are the target's; a new tenant's are the template's for its profiles.
    if (mode === 'in-place') requirePhysicalFit(input.from, source, manifest, (await stackOf(ctx, source)).state.pieces);
    // A new tenant's pieces are those its template and profiles (the backup's tenant.json) will give it: checked before anything is made.
    else requirePhysicalFit(input.from, target, manifest, declaredPieces(await configuredTemplate(ctx.config, shape.template), shape.profiles));
    document ??= await physicalBackupDocument(ctx, input.from, manifest);
    const modules = modulesOfDocument(input.from, document);
    if (mode === 'in-place') {
      const others = Object.keys(otherPieceFiles(manifest) ?? {});
      const question = `This replaces the whole PostgreSQL cluster of ${source}${others.length > 0 ? ` and its ${others.join(', ')}` : ''}, which are live, with physical backup ${input.from} (${manifest.createdAt}); its current data is kept until the restored tenant is proven ready. Type the tenant id to confirm: `;
      const confirmed = input.yes === true || (await input.confirm?.(question)) === true;
      if (!confirmed) throw new TenantctlError('refused', `restoring ${source} from ${input.from} replaces its live data: confirm on a terminal, or pass --yes`);
    }
    const repo = await openPitrRepository(ctx);
    const journal = new OperationJournal(db);
    const op = await journal.begin<PitrIntent>({
      tenant: target, verb: 'pitr-restore', host: ctx.dockerHost.id,
      data: {
        mode, source, targetTime: manifest.createdAt, suffix: randomBytes(4).toString('hex'),
        before: existing ? { status: existing.status, updatedAt: existing.updatedAt } : null,
        backup: input.from, modules,
        physical: physicalSourceOf(input.from, source, piece, manifest, record.snapshots, snapshotId),
      },
    });
    try {
      await ctx.pause('restore-physical:begun');
      let provisioned: Awaited<ReturnType<typeof import('../tenants/provision.js').provision>> | undefined;
      if (mode === 'new') {
        ctx.reporter.step(`provisioning ${target} to restore physical backup ${input.from} into`);
        const { provision } = await import('../tenants/provision.js');
        // The source's own id again keeps its name; an --as tenant is named by its id, as logical restores name it.
        provisioned = await provision(ctx, { id: target, name: target === source ? shape.name : target, plan: shape.plan, template: shape.template, with: shape.profiles });
        await journal.step(op, 'provisioned');
        await ctx.pause('restore-physical:provisioned');
      }
      const bytes = op.data.physical!.bytes;
      await replaceWithTime(ctx, journal, op, repo, { snapshotId, startedAt: manifest.createdAt, completedAt: manifest.createdAt, bytes });
      const { leftBehind, modulesChanged } = await completePitr(ctx, journal, op);
      return {
        id: target, from: input.from, source, method: 'physical', mode, backupTime: manifest.createdAt, others: (op.data.others ?? []).map((p) => p.name), modulesChanged, ...(leftBehind.length > 0 ? { leftBehind } : {}),
        url: provisioned?.url ?? (mode === 'in-place' ? existing?.appUrl : null) ?? null, initialApiKey: provisioned?.initialApiKey, durationMs: ctx.clock.now() - started,
      };
    } catch (error) {
      throw await undoAfterFailure(ctx, journal, op, error);
    }
  } finally {
    await release();
  }
}

/**
 * What a new tenant restored from the backup is provisioned as: the template, plan and profiles its
 * tenant.json recorded (read as its manifest hashed it: backup-document.ts), of the manifest's template, whose
 * PostgreSQL service is the piece's (else the major check would have no image to look at).
 */
async function shapeOfBackup(ctx: Context, backup: string, manifest: Pick<BackupManifest, 'template' | 'tenant'>, piece: ManifestPiece, document: TenantDocument): Promise<{ name: string; plan: string; template: string; profiles: string[] }> {
  const plan = document.record?.plan;
  if (typeof plan !== 'string' || plan === '') throw corrupt(backup, `its ${tenantFile} names no plan`);
  const template = document.record.template ?? manifest.template;
  if (typeof template !== 'string' || template !== manifest.template) throw corrupt(backup, `its ${tenantFile} names template ${JSON.stringify(template)} and its manifest ${JSON.stringify(manifest.template)}`);
  const service = await configuredTemplate(ctx.config, template).then((t) => pitrService(t.block, t.name), (error: unknown) => { throw new TenantctlError('usage', `backup ${backup} is of template ${template}, which cannot take it here: ${messageOf(error)}`); });
  if (service !== piece.service) throw corrupt(backup, `its PostgreSQL is service ${piece.service}, and template ${template}'s is ${service}`);
  return { name: document.record.name || manifest.tenant, plan, template, profiles: document.record.profiles ?? [] };
}

/** A new tenant's server is the template's image: it must be of the backup's major (the staged PG_VERSION is checked again). */
async function requireImageMajor(ctx: Context, backup: string, template: string, piece: ManifestPiece): Promise<void> {
  if (piece.major === undefined) throw corrupt(backup, 'its manifest records no PostgreSQL major for its physical piece');
  const image = await templateServiceImage(ctx, template, piece.service);
  if (!image) throw corrupt(backup, `template ${template} has no image for service ${piece.service} to compare the backup's PostgreSQL ${piece.major} with`);
  const mismatch = majorMismatch(backup, piece.major, piece.image, await imageMajor(ctx, ctx.dockerHost, image), `template ${template}'s ${piece.service} service`);
  if (mismatch) throw new TenantctlError('conflict', mismatch);
}

/** A cluster starts only under its own major version: the source's server now must be the backup's. */
async function requireSameMajor(ctx: Context, tenant: string, piece: ManifestPiece): Promise<void> {
  const stack = await stackOf(ctx, tenant);
  const container = await requireRunning(ctx.dockerHost, stack.project, stack.service, tenant, ctx.signal);
  const now = Math.floor(Number(await superuserSql(ctx, container.id, stack.anyRole, 'SHOW server_version_num', 'asking PostgreSQL for its version')) / 10_000);
  if (piece.major !== undefined && now !== piece.major) {
    throw new TenantctlError('conflict', `the physical backup is of PostgreSQL ${piece.major} and ${tenant} runs PostgreSQL ${now}: a cluster starts only under its own major version (restore a logical backup, or run the backup's image: ${piece.image})`);
  }
}

/**
 * What the restore stages of a physical backup: pg_basebackup's tar (hashed as a whole against the
 * manifest), or a file-level backup's data snapshot (its listing's SHA-256) and its label-and-WAL tar
 * (hashed); and the pieces it holds logically beside the cluster (others), when it has any.
 */
export function physicalSourceOf(backup: string, source: string, piece: ManifestPiece, manifest: Pick<BackupManifest, 'files'> & Partial<Pick<BackupManifest, 'pieces'>>, snapshots: Record<string, string>, snapshotId: string): PhysicalSource {
  const entry = manifest.files[piece.file];
  const others = manifest.pieces ? otherPieceFiles({ id: backup, pieces: manifest.pieces }) : undefined;
  const withOthers = others ? { others } : {};
  if (piece.layout !== 'files') return { backup, snapshotId, file: `/${snapshotPath(source, piece.file)}`, bytes: entry?.bytes ?? 0, sha256: entry?.sha256, ...withOthers };
  const walEntry = piece.wal ? manifest.files[piece.wal] : undefined;
  const walSnapshot = piece.wal ? snapshots[piece.wal] : undefined;
  if (!entry || !piece.wal || !walEntry || !walSnapshot) throw corrupt(backup, 'its manifest names no WAL tar with a snapshot for its data files');
  return {
    backup, snapshotId, file: `/${snapshotPath(source, piece.file)}`, bytes: entry.bytes + walEntry.bytes, layout: 'files', listingSha256: entry.sha256,
    wal: { snapshotId: walSnapshot, file: `/${snapshotPath(source, piece.wal)}`, sha256: walEntry.sha256 },
    ...withOthers,
  };
}
