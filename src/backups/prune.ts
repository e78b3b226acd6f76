import path from 'node:path';
import { rm } from 'node:fs/promises';
import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { LostLockError } from '../admin-db/database.js';
import type { AdminDb } from '../admin-db/database.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { BackupStore } from './store.js';
import { methodOf } from './list.js';
import { sparingNewestLogical } from './keep-logical.js';
import { backupDirectory } from './manifest.js';
import { openRepository } from '../repository/restic.js';
import { holdRepository } from '../repository/hold.js';
import { configuredRepository } from '../repository/location.js';
import { resticForgetTimeoutMs } from '../common/timeouts.js';
import { markPruneOwed, pruneIfDue, pruneOwedIfDue } from '../repository/prune-interval.js';

/** `restic forget` of every snapshot of one backup (by its tag: also one whose id the row never got). */
async function forgetBackup(ctx: Context, tenant: string, backupId: string): Promise<void> {
  const repo = await openRepository(ctx);
  const ids = (await repo.json<Array<{ id: string }>>(['snapshots', '--no-lock', '--tag', `tenant=${tenant},backup=${backupId}`], { timeoutMs: resticForgetTimeoutMs, signal: ctx.signal })).map((s) => s.id);
  if (ids.length > 0) await repo.run(['forget', ...ids], { timeoutMs: resticForgetTimeoutMs, signal: ctx.signal, onStderrLine: ctx.reporter.detail });
}

// `backup --keep N`: the tenant's older succeeded backups removed, journaled (verb 'backup-prune'):
// which backups go is recorded before the first folder is removed, each one after it is gone, so a
// run killed half-way is finished by the next command on the tenant (what was asked for is done,
// never half of it with rows that still promise removed folders).

export interface PruneIntent {
  /** --keep N, or the repository retention policy it applied (retention.ts). */
  keep: number | Record<string, number>;
  /** The backups to remove, oldest last, as chosen when the prune began. */
  backups: string[];
  /** Those already removed (folder gone, row marked pruned). */
  removed?: string[];
}

/** Keeps the newest `keep` succeeded backups of the tenant (the caller holds its lock); returns the ids removed. */
export async function pruneBackups(ctx: Context, db: AdminDb, id: string, keep: number): Promise<string[]> {
  const succeeded = (await new BackupStore(db).list({ tenant: id })).filter((b) => b.state === 'succeeded');
  // A backup an unfinished operation reads from (a restore, a move; of any tenant) stays until it ends.
  const inUse = await backupsInUse(db);
  // The newest logical backup stays too: a physical one restores only under its own PostgreSQL major (keep-logical.ts).
  const dated = succeeded.map((b) => ({ id: b.id, time: b.manifest?.createdAt ?? b.startedAt, method: methodOf(b) }));
  const doomed = sparingNewestLogical(succeeded.slice(keep).map((b) => b.id), dated).filter((backupId) => !inUse.has(backupId));
  return removeChosen(ctx, db, id, doomed, keep);
}

/** Backups an unfinished operation reads from (a restore, a move; of any tenant): they stay until it ends. */
export async function backupsInUse(db: AdminDb): Promise<Set<string>> {
  const { rows } = await db.pool.query("SELECT DISTINCT data->>'backup' AS backup FROM admin_operations WHERE state = 'running' AND data ? 'backup'").catch(db.unreachable);
  return new Set(rows.map((r) => r.backup as string));
}

/** Removes the chosen backups, journaled (the caller holds the tenant's lock); returns their ids. */
export async function removeChosen(ctx: Context, db: AdminDb, id: string, doomed: string[], keep: PruneIntent['keep']): Promise<string[]> {
  if (doomed.length === 0) {
    // Nothing of this tenant goes, but an earlier retention's deferred prune may be due by now.
    const location = configuredRepository(ctx.config);
    if (location) await pruneOwedIfDue(ctx, db, location, async (args, o) => (await openRepository(ctx)).run(args, o));
    return [];
  }
  const journal = new OperationJournal(db);
  const op = await journal.begin<PruneIntent>({ tenant: id, verb: 'backup-prune', host: ctx.dockerHost.id, data: { keep, backups: doomed, removed: [] } });
  try {
    await ctx.pause('prune:begun');
    await removeEach(ctx, journal, op);
  } catch (error) {
    // What was chosen is removed even after Ctrl-C (with a signal of its own); a lost lock leaves it to the next command.
    const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
    // Only under a lock still ours (another tenantctl may be working on the tenant now): else the next command finishes it.
    if (first instanceof LostLockError || (await journal.db.locksProven())) throw first;
    const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
    await removeEach(quiet, journal, op).then(
      () => first.details.push(`the ${doomed.length} backups chosen for removal were removed`),
      (problem) => first.details.push(`removing the backups chosen failed: ${messageOf(problem)}; the next command on ${id} finishes it`),
    );
    throw first;
  }
  ctx.reporter.info(`removed ${doomed.length} older backup${doomed.length === 1 ? '' : 's'} of ${id} (${typeof keep === 'number' ? `--keep ${keep}` : Object.entries(keep).map(([k, n]) => `--keep-${k} ${n}`).join(' ')})`);
  return doomed;
}

async function removeEach(ctx: Context, journal: OperationJournal, op: Operation<PruneIntent>): Promise<void> {
  // forget+prune take restic's exclusive lock: never while another backup streams into the repository (hold.ts).
  const location = configuredRepository(ctx.config);
  const release = location ? await holdRepository(journal.db, location, 'exclusive') : undefined;
  try {
    await removeEachHeld(ctx, journal, op);
  } finally {
    await release?.();
  }
}

async function removeEachHeld(ctx: Context, journal: OperationJournal, op: Operation<PruneIntent>): Promise<void> {
  const store = new BackupStore(journal.db);
  let forgotten = false;
  for (const backupId of op.data.backups) {
    if (op.data.removed?.includes(backupId)) continue;
    const record = await store.get(backupId);
    if (record?.repository) {
      // Its snapshots (every one tagged with its id) forgotten; their data goes with the prune below (owed from before the forget).
      const location = configuredRepository(ctx.config);
      if (location) await markPruneOwed(journal.db, location);
      await forgetBackup(ctx, op.tenant, backupId);
      forgotten = true;
    }
    // Only a folder that is this tenant's, under backupsDir: a row pointing elsewhere is left alone.
    const expected = backupDirectory(ctx.config.backupsDir, op.tenant, backupId);
    if (record && path.resolve(record.directory) === expected) await rm(expected, { recursive: true, force: true });
    if (record && record.state !== 'pruned') await store.markPruned(backupId);
    await journal.step(op, `removed ${backupId}`, { removed: [...(op.data.removed ?? []), backupId] });
    await ctx.pause('prune:removing');
  }
  // After the last forget, once per repository per backups.pruneIntervalMinutes (prune-interval.ts:
  // a prune after every tenant's retention was the fleet's expensive part). Data still used by other snapshots stays.
  const location = configuredRepository(ctx.config);
  if (location && (forgotten || (await journal.db.pool.query("SELECT 1 FROM admin_backups WHERE id = ANY($1) AND repository IS NOT NULL", [op.data.backups]).catch(journal.db.unreachable)).rows.length > 0)) {
    const repo = await openRepository(ctx);
    const prune = await pruneIfDue(ctx, journal.db, location, (args, o) => repo.run(args, { ...o, onStderrLine: ctx.reporter.detail }));
    if (!prune.pruned) ctx.reporter.info(prune.detail);
  }
  await journal.finish(op, 'completed');
}

/** Settles a prune a killed run left: the backups it chose are removed, as it was asked to. */
export async function resumePrune(ctx: Context, op: Operation<PruneIntent>): Promise<'finished' | 'undone'> {
  await removeEach(ctx, new OperationJournal(await ctx.adminDb()), op);
  return 'finished';
}
