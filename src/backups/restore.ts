import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Context } from '../context.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { setModulesBackIn } from '../modules/set-back.js';
import { parseTenantId } from '../tenants/input.js';
import { TenantRegistry, wrongHost, type TenantRecord } from '../tenants/registry.js';
import { LostLockError } from '../admin-db/database.js';
import { holdTenant } from '../tenants/hold.js';
import { requireTenantFor, servicesOf, suspendedRefusal } from '../tenants/day2-target.js';
import { readyTargetOf, waitForTenantReady } from '../tenants/wait-ready.js';
import { objectsByLabel } from '../engine/docker.js';
import { projectLabel } from '../stack/removal.js';
import { onContainers, runtimeFor } from '../runtime/runtime-for.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { BackupStore } from './store.js';
import { corrupt, physicalPieceOf, dumpFile, manifestFile, redisFile, tenantFile, verifyBackup, type BackupManifest } from './manifest.js';
import { clientsOf, dropReplaced, putStateBack, stagePiece, startStack, stopClients, swapPiece, type RestoreStack } from './restore-data.js';
import { tenantState } from './tenant-state.js';
import type { Piece } from './pieces.js';
import { piecesFitProblems } from './pieces-fit.js';
import { backupReader, verifyRepositoryBackup } from './source.js';
import { repositoryRef } from './in-repository.js';

// `tenantctl restore <id> --from <backup> [--as <new-id>]`. The backup is verified first (every file
// against its size and SHA-256): a corrupt or truncated one is refused (exit 2) before anything is
// touched. Then, under the tenant's lock for the whole run, the intent goes into the operation
// journal (its mode, the backup, the names of what it will create) before the first effect, and
// each step after it is done:
//   in-place  an active tenant's data replaced (asks first, or --yes);
//   kept      a tenant deprovisioned with --keep-data: provisioned again on its kept data, which is
//             then replaced (only with --replace-kept-data);
//   new       no tenant (deprovisioned without its data, failed, or --as a new id): provisioned first
//             with new passwords.
// The data steps (restore-data.ts) keep what they replace until the restored tenant is proven ready;
// any failure before that puts it back, and a run killed on the way is settled by the next command
// on the tenant (resumeRestore): undone before 'proven', finished after. Only what this restore
// created is ever removed: a tenant it provisioned over kept data is deprovisioned again keeping it.

export interface RestoreResult {
  id: string;
  from: string;
  /** The tenant the backup was made of. */
  source: string;
  /** restored: into the existing tenant; provisioned-and-restored: a new (or re-provisioned) tenant. */
  outcome: 'restored' | 'provisioned-and-restored';
  /** in-place, kept (over kept data) or new. */
  mode: RestoreMode;
  url: string | null;
  /** Modules switched to the backup's state. */
  modulesChanged: string[];
  /** When this restore provisioned the tenant: its initial API key (API keys are never restored). */
  initialApiKey?: { id: string; prefix: string; key: string };
  durationMs: number;
  /** MB/s of the dump fed to pg_restore (MB = 10^6 bytes). */
  restoreMBps: number;
}

export type RestoreMode = 'in-place' | 'kept' | 'new';

/** What the journal holds of a restore: enough for another process to finish or undo it. */
export interface RestoreIntent {
  mode: RestoreMode;
  /** The backup's id and folder, and the tenant it was made of. */
  backup: string;
  dir: string;
  source: string;
  /** Names what the data steps create (restore-data.ts databaseNames, piece-files.ts fileNames). */
  suffix: string;
  /** The tenant's row before (status and last change; null: no row): an undo finds whether provision ever touched it. */
  before: { status: string; updatedAt: string } | null;
  /** The modules the tenant had at the backup: set once the restore is proven (kept here, so finishing needs nothing of the backup's files). */
  modules: Array<{ key: string; enabled: boolean }>;
  /**
   * The tenant's pieces as resolved when the data steps began (names, databases, volumes): an undo
   * or a finish works from these, whatever the template or config says by then.
   */
  pieces?: Piece[];
}

/** The data steps in order; a step is recorded once its effect is done. Past 'proven' a restore is finished, never undone. */
export const restoreSteps = ['begun', 'provisioned', 'staged', 'clients-stopped', 'swapped', 'starting', 'started', 'proven'] as const;
export type RestoreStep = (typeof restoreSteps)[number];
const reached = (step: string, than: RestoreStep) => restoreSteps.indexOf(step.replace(/^restore:/, '') as RestoreStep) >= restoreSteps.indexOf(than);

export interface TenantDocument {
  /** template and profiles: absent in backups made before templates (crm's, without profiles). */
  record: { id: string; name: string; plan: string; template?: string; profiles?: string[] };
  modules: Array<{ key: string; enabled: boolean }>;
}

export interface RestoreInput {
  id: unknown;
  from: unknown;
  as?: unknown;
  /** With as: the new tenant's display name (default: its id). */
  name?: unknown;
  /** An active tenant's data is replaced only when confirmed (--yes, or `confirm` on a terminal). */
  yes?: boolean;
  confirm?: (question: string) => Promise<boolean>;
  /** Kept data (deprovision --keep-data) is replaced only with this (--replace-kept-data). */
  replaceKeptData?: boolean;
}

export async function restore(ctx: Context, input: RestoreInput): Promise<RestoreResult> {
  const started = ctx.clock.now();
  const source = parseTenantId(input.id);
  const target = input.as === undefined ? source : parseTenantId(input.as);
  if (typeof input.from !== 'string' || input.from.trim() === '') throw usageError('--from <backup> is required: a backup id (tenantctl backups) or a backup folder');
  const db = await ctx.adminDb();

  // The tenant's lock for the whole run (an operation a killed run left is settled first), then the
  // backup, verified before anything is changed (under the lock: a prune settled just now may have removed it).
  const release = await holdTenant(ctx, target);
  try {
    const { dir, manifest } = await locateAndVerify(ctx, input.from);
    if (physicalPieceOf(manifest)) throw usageError(`backup ${manifest.id} is physical: tenantctl restore ${manifest.tenant} --from ${manifest.id} restores it (by swapping its PostgreSQL cluster)`);
    if (manifest.tenant !== source) throw usageError(`backup ${manifest.id} is of tenant ${manifest.tenant}, not ${source}; use tenantctl restore ${manifest.tenant} --from ${input.from}${input.as === undefined ? ` --as ${source}` : ''}`);
    const document = await readBackupDocument(ctx, dir);
    const existing = await new TenantRegistry(db).get(target);
    const mode = await modeFor(ctx, existing, { target, asNew: input.as !== undefined, manifest, input });
    // A live tenant whose pieces the backup does not hold exactly is refused before anything is
    // recorded or changed (a tenant provisioned for the restore gets the backup's template and profiles).
    if (mode === 'in-place') await restoreStackOf(ctx, target, dir);
    const journal = new OperationJournal(db);
    const op = await journal.begin<RestoreIntent>({
      tenant: target, verb: 'restore', host: ctx.dockerHost.id,
      data: {
        mode, backup: manifest.id, dir, source, suffix: randomBytes(4).toString('hex'),
        before: existing ? { status: existing.status, updatedAt: existing.updatedAt } : null, modules: document.modules ?? [],
      },
    });
    try {
      await ctx.pause('restore:begun');
      let provisioned: Awaited<ReturnType<typeof import('../tenants/provision.js').provision>> | undefined;
      if (mode !== 'in-place') {
        ctx.reporter.step(`provisioning ${target} to restore into${mode === 'kept' ? ' (on its kept data, which the backup then replaces)' : ''}`);
        const { provision } = await import('../tenants/provision.js');
        // The backup's own template, whatever templates.default says now: the dump fits only its schema.
        provisioned = await provision(ctx, {
          id: target, name: input.as === undefined ? document.record.name : (input.name ?? target), plan: document.record.plan,
          template: document.record.template ?? 'crm', with: document.record.profiles ?? [],
        });
        await journal.step(op, 'provisioned');
        await ctx.pause('restore:provisioned');
      }
      const { restoreMBps } = await replaceData(ctx, journal, op, target);
      const modulesChanged = await completeRestore(ctx, journal, op);
      const url = provisioned?.url ?? existing?.appUrl ?? null;
      return {
        id: target, from: manifest.id, source, mode, outcome: provisioned ? 'provisioned-and-restored' : 'restored', url, modulesChanged,
        initialApiKey: provisioned?.initialApiKey, durationMs: ctx.clock.now() - started, restoreMBps,
      };
    } catch (error) {
      throw await undoAfterFailure(ctx, journal, op, error);
    }
  } finally {
    await release();
  }
}

/** Which restore this is, or a refusal: an active tenant needs confirmation, kept data --replace-kept-data. */
async function modeFor(
  ctx: Context, existing: TenantRecord | undefined,
  { target, asNew, manifest, input }: { target: string; asNew: boolean; manifest: BackupManifest; input: RestoreInput },
): Promise<RestoreMode> {
  if (existing && !['deprovisioned', 'failed'].includes(existing.status)) {
    if (asNew) throw new TenantctlError('conflict', `tenant ${target} exists (${existing.status}); restore --as makes a new tenant: choose an id that is free, or restore ${target} from its own backups`);
    if (existing.status === 'suspended') throw suspendedRefusal(existing, 'be restored');
    if (existing.status !== 'active') throw new TenantctlError('conflict', `tenant ${target} is ${existing.status}; a restore needs it active (tenantctl start ${target}) or deprovisioned`);
    if (existing.host !== ctx.dockerHost.id) throw wrongHost(target, existing.host, ctx.dockerHost.id);
    const question = `This replaces the data of ${target} (${Object.keys(manifest.pieces).join(', ')}), which is live, with backup ${manifest.id} (made ${manifest.createdAt}); its current data is kept until the restored tenant is proven ready. Type the tenant id to confirm: `;
    const confirmed = input.yes === true || (await input.confirm?.(question)) === true;
    if (!confirmed) throw new TenantctlError('refused', `restoring backup ${manifest.id} over the live data of ${target} replaces it: confirm on a terminal, or pass --yes`);
    return 'in-place';
  }
  if (existing?.keptData) {
    if (existing.host !== ctx.dockerHost.id) throw wrongHost(target, existing.host, ctx.dockerHost.id);
    if (input.replaceKeptData !== true) {
      const volumes = (await objectsByLabel(ctx.dockerHost, projectLabel(existing.composeProject), ctx.signal)).volumes;
      const since = existing.deprovisionedAt ? ` since ${existing.deprovisionedAt}` : '';
      throw new TenantctlError('conflict', `tenant ${target} has kept data (${existing.status}${since}; volumes ${volumes.join(', ') || 'none found on this host'}): restoring backup ${manifest.id} would replace its data (${Object.keys(manifest.pieces).join(', ')}); pass --replace-kept-data to do that (the kept data stays until the restored tenant is proven ready), or \`tenantctl provision ${target}\` to bring the kept data back as it is`);
    }
    return 'kept';
  }
  return 'new';
}

/**
 * The tenant's stack and state as the data steps see it, and the backup's file for each of its
 * pieces: the backup must hold exactly the pieces the tenant has now (same names and kinds), or
 * the restore is refused (exit 2) before anything changes.
 */
async function restoreStackOf(ctx: Context, id: string, backupDir?: string): Promise<{ stack: RestoreStack; rendered: string; t: Awaited<ReturnType<typeof requireTenantFor>>; pieces: Piece[]; secrets: Record<string, string> }> {
  const t = await requireTenantFor(ctx, id, 'be restored', ['active']);
  const db = await ctx.adminDb();
  const { rendered, pieces, secrets } = await tenantState(ctx, db, t, 'be restored');
  const clients = clientsOf(servicesOf(rendered, t.record.profiles), pieces);
  const stack: RestoreStack = { id, project: t.record.composeProject, target: t.target, clients, runtime: await runtimeFor(ctx.dockerHost, t.target, ctx.signal) };
  // Undoing and dropping what was replaced need only the tenant's pieces, not the backup's files.
  if (backupDir === undefined) return { stack, rendered, t, pieces, secrets };
  const manifest = await (await backupReader(ctx, backupDir)).manifest();
  // Format 1 (crm's, before templates declared state): its db.dump and redis.rdb are crm's db and redis.
  const inBackup = manifest.pieces ?? { db: { kind: 'postgres', file: dumpFile }, redis: { kind: 'redis', file: redisFile } } as Record<string, { kind: string; file: string }>;
  const problems = piecesFitProblems(id, inBackup, pieces);
  if (problems.length > 0) throw usageError(`backup ${manifest.id ?? backupDir} does not fit ${id}: ${problems.join('; ')}; nothing was changed`);
  for (const piece of pieces) piece.file = inBackup[piece.name]!.file;
  return { stack, rendered, t, pieces, secrets };
}

/**
 * The backup's state into the tenant's running stack, each step recorded as it is done, until the
 * restored tenant is proven ready (with the same probes as provision). Nothing is dropped here.
 * `prefix` names the steps in another verb's operation (a move records 'restore:staged').
 */
export async function replaceData(ctx: Context, journal: OperationJournal, op: Operation<RestoreIntent>, id: string, { prefix = '' }: { prefix?: string } = {}): Promise<{ restoreMBps: number }> {
  const dir = op.data.dir;
  const { stack, rendered, t, pieces, secrets } = await restoreStackOf(ctx, id, dir);
  const record = async (step: RestoreStep) => {
    await journal.step(op, `${prefix}${step}`);
    await ctx.pause(`restore:${step}`);
  };

  // What is about to be staged and swapped, recorded before any of it is touched.
  await journal.step(op, op.step, { pieces: pieces.map((p) => ({ ...p })) });
  let restoreMBps = 0;
  const reader = await backupReader(ctx, dir);
  for (const piece of pieces) {
    ctx.reporter.step(`staging ${piece.name} of ${op.data.backup} beside the live one while ${id} runs`);
    restoreMBps = Math.max(restoreMBps, await stagePiece(ctx, stack, piece, reader.input(piece.file), op.data.suffix, op.data.backup));
  }
  await record('staged');

  ctx.reporter.step(`stopping ${stack.clients.join(', ') || 'nothing'} of ${id} (nothing writes while its state changes)`);
  await stopClients(ctx, stack);
  await record('clients-stopped');
  for (const piece of pieces) {
    ctx.reporter.step(`swapping in ${piece.name} (what it replaces stays aside until ${id} is ready)`);
    await swapPiece(ctx, stack, piece, op.data.suffix);
  }
  await record('swapped');

  // From here the restored stack may run and write: an undo keeps what it holds.
  await record('starting');
  ctx.reporter.step(`starting ${id}`);
  await startStack(ctx, stack);
  await record('started');
  ctx.reporter.step('waiting until every service is ready');
  await waitForTenantReady(onContainers(ctx, stack.runtime), await readyTargetOf(ctx, t.record, rendered, secrets));
  await record('proven');
  return { restoreMBps };
}

/**
 * Past 'proven': what was replaced is dropped, the modules the tenant had at the backup come back
 * (API keys never do), and the operation is closed with its audit row. Used by a run that got
 * there and by a later one that finds the journal at 'proven'.
 */
async function completeRestore(ctx: Context, journal: OperationJournal, op: Operation<RestoreIntent>): Promise<string[]> {
  const id = op.tenant;
  const db = await ctx.adminDb();
  await dropRestoreLeftovers(ctx, op);
  // The modules set back in the close's transaction: with backup.restored naming them, all or nothing.
  let modulesChanged: string[] = [];
  await journal.finish(op, 'completed', null, async (client) => {
    modulesChanged = await setModulesBackIn(db, client, id, op.data.modules ?? []);
    await recordAudit(db, client, id, 'backup.restored', null, {
      backup: op.data.backup, from: op.data.source, directory: op.data.dir, mode: op.data.mode, modulesChanged,
    });
  });
  return modulesChanged;
}

/** Past 'proven': what the restore replaced is removed (a failure to is said, not fatal: the state is restored). */
export async function dropRestoreLeftovers(ctx: Context, op: Operation<RestoreIntent>): Promise<void> {
  ctx.reporter.step(`dropping what the restore replaced in ${op.tenant}`);
  const { stack, pieces: now } = await restoreStackOf(ctx, op.tenant);
  const pieces = op.data.pieces ?? now;
  for (const problem of await dropReplaced(ctx, stack, pieces, op.data.suffix)) ctx.reporter.info(problem);
}

/**
 * A restore that did not reach 'proven' is undone: the tenant's own data back (in-place, kept), then
 * in-place: its stack started and proven ready; kept: deprovisioned again keeping its data; new: the
 * tenant this restore provisioned is deprovisioned (everything of it was made by this operation).
 */
export async function undoRestore(ctx: Context, journal: OperationJournal, op: Operation<RestoreIntent>, reason: string): Promise<string[]> {
  const id = op.tenant;
  const { mode } = op.data;
  let kept: string[] = [];
  if (mode === 'in-place' || (mode === 'kept' && reached(op.step, 'provisioned'))) {
    ctx.reporter.step(`putting the state of ${id} back as it was`);
    const { stack, rendered, t, pieces: now, secrets } = await restoreStackOf(ctx, id);
    const pieces = op.data.pieces ?? now;
    // Once the restored stack is starting, its services may write to it: that state is kept, not dropped.
    kept = await putStateBack(ctx, stack, pieces, op.data.suffix, { keepRestored: reached(op.step, 'starting') });
    if (mode === 'in-place') {
      ctx.reporter.step(`starting ${id} again on its own data`);
      await startStack(ctx, stack);
      await waitForTenantReady(onContainers(ctx, stack.runtime), await readyTargetOf(ctx, t.record, rendered, secrets));
    }
  }
  if (mode !== 'in-place' && (await provisionTouched(ctx, op))) {
    const { deprovision } = await import('../tenants/deprovision.js');
    ctx.reporter.step(mode === 'kept' ? `deprovisioning ${id} again, keeping its data` : `removing ${id} again (provisioned for this restore)`);
    await deprovision(ctx, { id, confirmed: true, keepData: mode === 'kept' }).catch((error) => {
      // Killed before provision wrote the tenant's row: nothing of it exists.
      if (!(error instanceof TenantctlError && error.kind === 'notFound')) throw error;
    });
  }
  await journal.finish(op, 'undone', kept.length > 0 ? `${reason}; kept what the restored stack may have written: ${kept.join(', ')}` : reason);
  return kept;
}

/** Whether the restore's provision changed the tenant's row (and so may have made its stack): else it refused before anything. */
async function provisionTouched(ctx: Context, op: Operation<RestoreIntent>): Promise<boolean> {
  const now = await new TenantRegistry(await ctx.adminDb()).get(op.tenant);
  if (!now) return false;
  const before = op.data.before;
  return !(before && now.status === before.status && now.updatedAt === before.updatedAt);
}

/**
 * The failing run settles its own operation as a later command would (resumeRestore): finished if it
 * had been proven ready, else undone, even after Ctrl-C (with a signal of its own; a second Ctrl-C
 * leaves it to the next command, which finds the journal). The error keeps its first cause; what
 * became of the restore, or why it could not be settled, is in its details. A lost lock settles
 * nothing: another tenantctl may be working on the tenant.
 */
async function undoAfterFailure(ctx: Context, journal: OperationJournal, op: Operation<RestoreIntent>, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  // Only under a lock still ours: another tenantctl may be working on the tenant now.
  const lost = first instanceof LostLockError ? first : await journal.db.locksProven();
  if (lost) {
    first.details.push(`nothing was undone (${lost === first ? 'the tenant lock was lost' : lost.message}); the restore stopped at step ${op.step}, and the next command on ${op.tenant} finishes or undoes it from the journal`);
    return first;
  }
  const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
  try {
    if (reached(op.step, 'proven')) {
      await completeRestore(quiet, journal, op);
      first.details.push(`the restore had been proven ready: it was finished (${op.tenant} runs on the backup's data)`);
      return first;
    }
    const kept = await undoRestore(quiet, journal, op, first.message);
    first.details.push(op.data.mode === 'in-place' ? `undone: ${op.tenant} runs on its own data again, proven ready`
      : op.data.mode === 'kept' ? `undone: ${op.tenant} is deprovisioned again with its kept data as it was` : `undone: ${op.tenant}, provisioned for this restore, is removed again`);
    if (kept.length > 0) first.details.push(keptMessage(op.tenant, kept));
  } catch (problem) {
    first.details.push(`settling the restore failed too: ${messageOf(problem)}; the journal keeps it (step ${op.step}): the next command on ${op.tenant}, or tenantctl doctor --fix, tries again`);
  }
  return first;
}

/** What an undo kept of the restored data (the restored stack had run): said, never dropped silently. */
function keptMessage(id: string, kept: string[]): string {
  return `the restored stack of ${id} had started, so what it held (the backup's data and anything written since) is kept, not dropped: ${kept.join(', ')}; look at it, then drop it (tenantctl psql ${id} -- -c 'DROP DATABASE …')`;
}

/** Settles a restore a killed run left: finished when it was proven ready, else undone. */
export async function resumeRestore(ctx: Context, op: Operation<RestoreIntent>, reason = `interrupted at step ${op.step}; undone by a later command`): Promise<'finished' | 'undone'> {
  const journal = new OperationJournal(await ctx.adminDb());
  if (reached(op.step, 'proven')) {
    await completeRestore(ctx, journal, op);
    return 'finished';
  }
  const kept = await undoRestore(ctx, journal, op, reason);
  if (kept.length > 0) ctx.reporter.info(keptMessage(op.tenant, kept));
  return 'undone';
}

/** The backup's tenant.json: the record it was made of and its modules. */
export async function readBackupDocument(ctx: Context, dir: string): Promise<TenantDocument> {
  return JSON.parse(await (await backupReader(ctx, dir)).text(tenantFile)) as TenantDocument;
}

/** A backup id from `tenantctl backups`, or a backup folder (holding manifest.json). */
export async function locateAndVerify(ctx: Context, from: string): Promise<{ dir: string; manifest: BackupManifest }> {
  const store = new BackupStore(await ctx.adminDb());
  const looksLikePath = from.includes('/') || from.startsWith('.');
  if (looksLikePath) {
    const dir = path.resolve(from);
    const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
    if (!isDir) throw usageError(`--from ${from}: no such backup folder`);
    // When the admin database knows it, its manifest must also be the one recorded then.
    const manifestId = await readFile(path.join(dir, manifestFile), 'utf8').then((t) => JSON.parse(t).id as string, () => undefined);
    const record = typeof manifestId === 'string' ? await store.get(manifestId) : undefined;
    ctx.reporter.step(`verifying ${dir} (sizes and SHA-256)`);
    return { dir, manifest: await verifyBackup(dir, record?.manifestSha256) };
  }
  const record = await store.get(from);
  if (!record) throw new TenantctlError('notFound', `no backup ${from} in the admin database (tenantctl backups lists them; a folder path works too)`);
  if (record.state !== 'succeeded') throw corrupt(from, `it is recorded as ${record.state}${record.reason ? ` (${record.reason})` : ''}`);
  if (record.repository !== null) {
    ctx.reporter.step(`verifying backup ${from} in ${record.repositoryDisplay} (its manifest against the SHA-256 recorded)`);
    return { dir: repositoryRef(from), manifest: await verifyRepositoryBackup(ctx, from, record.manifestSha256) };
  }
  ctx.reporter.step(`verifying backup ${from} (sizes and SHA-256)`);
  return { dir: record.directory, manifest: await verifyBackup(record.directory, record.manifestSha256) };
}

