import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { LostLockError, type AdminDb } from '../admin-db/database.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { recordAudit } from '../audit/write.js';
import { holdRepository } from '../repository/hold.js';
import { shippingLock } from './ship-lock.js';
import { configuredRepository } from '../repository/location.js';
import { resticForgetTimeoutMs } from '../common/timeouts.js';
import { markPruneOwed, pruneIfDue, pruneOwedIfDue, type PruneRun } from '../repository/prune-interval.js';
import { baseTags, snapshotsTagged, walTags, type PitrRepository, type SnapshotSummary } from './repo.js';

// Retention of a PITR tenant's physical base backups (kind=pitr-base) and WAL batches (kind=wal):
// the newest plans.<plan>.pitrRetention.keepBaseBackups bases (default 7) are kept, and every base
// completed within keepDays days (none by default); a WAL batch is forgotten only when it is older
// than everything the oldest kept base replays from (a to-time restore takes every batch shipped
// since a minute before its base began: restore-to-time.ts; an hour more is kept besides). Applied
// after each base backup (`backup` of a PITR tenant, and the agent's scheduled backups), under
// the tenant's lock and its shipping lock (no to-time restore reads meanwhile), holding the
// repository exclusive like every forget and prune (repository/hold.ts), journaled (verb
// 'pitr-prune'): what goes is recorded before anything is removed, the bases' rows dropped first
// (so no restore chooses one), then the forgets and one `restic prune`; a run killed half-way is
// finished by the next command on the tenant.

export interface PitrRetentionPolicy {
  keepBaseBackups: number;
  keepDays?: number;
}

/** When a plan sets none: a week of daily bases. */
export const defaultPitrRetention: PitrRetentionPolicy = { keepBaseBackups: 7 };

/** The restore's slack before a base's start (restore-to-time.ts), and the margin kept besides. */
const restoreSlackMs = 60_000;
const marginMs = 60 * 60_000;

export interface BaseRow { snapshotId: string; startedAt: string; completedAt: string }

export interface PitrRetentionChoice {
  keptBases: string[];
  /** Recorded bases to drop (rows and snapshots). */
  bases: string[];
  /** kind=pitr-base snapshots no row records (a killed backup's), older than the oldest kept base. */
  strayBases: string[];
  /** WAL batches no kept base needs. */
  wal: string[];
  /** WAL batches before this time are forgotten (null: none is). */
  walBefore: string | null;
}

/**
 * Which bases and WAL batches go (pure: the unit tests give it rows and snapshots). `inUse`: snapshot
 * ids a running operation reads (never forgotten). With no base recorded nothing goes: the WAL is all
 * there is of the tenant's history.
 */
export function choosePitrRetention(input: { bases: readonly BaseRow[]; baseSnapshots: readonly SnapshotSummary[]; walSnapshots: readonly SnapshotSummary[]; policy: PitrRetentionPolicy; now: number; inUse?: ReadonlySet<string> }): PitrRetentionChoice {
  const { policy, now } = input;
  const inUse = input.inUse ?? new Set<string>();
  // Ids in use may be short (a restore's base, as its row has it) or full: matched by prefix either way.
  const inUsed = (id: string) => [...inUse].some((u) => id.startsWith(u) || u.startsWith(id));
  const newestFirst = [...input.bases].sort((a, b) => Date.parse(b.completedAt) - Date.parse(a.completedAt));
  const nothing: PitrRetentionChoice = { keptBases: [], bases: [], strayBases: [], wal: [], walBefore: null };
  // A base counts as kept only if its snapshot is in the repository: older ones never go for a
  // newest base that is not there (it failed, or was removed by hand). Then nothing goes at all.
  const present = (b: BaseRow) => input.baseSnapshots.some((s) => s.id.startsWith(b.snapshotId));
  if (newestFirst[0] && !present(newestFirst[0])) return nothing;
  const within = policy.keepDays === undefined ? Infinity : now - policy.keepDays * 86_400_000;
  const there = newestFirst.filter(present);
  const kept = there.filter((b, i) => i < Math.max(1, policy.keepBaseBackups) || Date.parse(b.completedAt) >= within || inUsed(b.snapshotId));
  const keptIds = new Set(kept.map((b) => b.snapshotId));
  const oldestKept = kept.reduce<BaseRow | undefined>((o, b) => (!o || Date.parse(b.startedAt) < Date.parse(o.startedAt) ? b : o), undefined);
  if (!oldestKept) return nothing;
  const oldestStart = Date.parse(oldestKept.startedAt);
  // Rows keep restic's short id (backup --json's snapshot_id); snapshot listings the full one.
  const isRecorded = (s: SnapshotSummary) => input.bases.some((b) => s.id.startsWith(b.snapshotId));
  const cutoff = oldestStart - restoreSlackMs - marginMs;
  return {
    keptBases: kept.map((b) => b.snapshotId),
    // A row whose snapshot is missing is neither kept nor dropped here: nothing of it is in the repository to forget.
    bases: there.filter((b) => !keptIds.has(b.snapshotId)).map((b) => b.snapshotId),
    strayBases: input.baseSnapshots.filter((s) => !isRecorded(s) && !inUsed(s.id) && Date.parse(s.time) < oldestStart - marginMs).map((s) => s.id),
    wal: input.walSnapshots.filter((s) => Date.parse(s.time) < cutoff && !inUsed(s.id)).map((s) => s.id),
    walBefore: new Date(cutoff).toISOString(),
  };
}

export interface PitrPruneIntent {
  policy: PitrRetentionPolicy;
  bases: string[];
  strayBases: string[];
  wal: string[];
}

export interface PitrPruneResult {
  bases: number;
  wal: number;
  /** Why retention did not run to its end (the base backup stands; the next one tries again). */
  warning?: string;
}

/** The plan's policy (plans.<plan>.pitrRetention), else the default. */
export function pitrRetentionOf(ctx: Pick<Context, 'config'>, plan: string): PitrRetentionPolicy {
  const set = ctx.config.plans[plan as keyof Context['config']['plans']]?.pitrRetention;
  return set ? { keepBaseBackups: set.keepBaseBackups, ...(set.keepDays === undefined ? {} : { keepDays: set.keepDays }) } : defaultPitrRetention;
}

/**
 * Applies the policy to the tenant (the caller holds its lock and its shipping lock). Nothing is
 * done while another operation of the tenant is unfinished (a to-time restore taking its new base
 * reads from the repository): the next base backup applies it.
 */
export async function prunePitr(ctx: Context, repo: PitrRepository, tenant: string, policy: PitrRetentionPolicy): Promise<PitrPruneResult> {
  const db = await ctx.adminDb();
  const running = await db.pool.query("SELECT 1 FROM admin_operations WHERE customer_id = $1 AND state = 'running'", [tenant]).catch(db.unreachable);
  if (running.rows.length > 0) return { bases: 0, wal: 0 };
  const { rows } = await db.pool.query('SELECT snapshot_id, started_at, completed_at FROM admin_pitr_base_backups WHERE customer_id = $1 AND repository = $2', [tenant, repo.location.display]).catch(db.unreachable);
  const bases = rows.map((r) => ({ snapshotId: r.snapshot_id as string, startedAt: (r.started_at as Date).toISOString(), completedAt: (r.completed_at as Date).toISOString() }));
  const [baseSnapshots, walSnapshots] = await Promise.all([snapshotsTagged(ctx, repo, baseTags(tenant)), snapshotsTagged(ctx, repo, walTags(tenant))]);
  const inUse = await snapshotsInUse(db);
  const choice = choosePitrRetention({ bases, baseSnapshots, walSnapshots, policy, now: ctx.clock.now(), inUse });
  if (choice.bases.length + choice.strayBases.length + choice.wal.length === 0) {
    // Nothing of this tenant goes, but an earlier retention's prune may be owed and due by now.
    const location = configuredRepository(ctx.config);
    if (location) await pruneOwedIfDue(ctx, db, location, (args, o) => repo.run(args, o));
    return { bases: 0, wal: 0 };
  }
  const journal = new OperationJournal(db);
  const op = await journal.begin<PitrPruneIntent>({ tenant, verb: 'pitr-prune', host: ctx.dockerHost.id, data: { policy, bases: choice.bases, strayBases: choice.strayBases, wal: choice.wal } });
  try {
    await ctx.pause('pitr-prune:begun');
    await applyPrune(ctx, journal, op, repo);
  } catch (error) {
    const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
    if (first instanceof LostLockError || (await db.locksProven())) throw first;
    // What was chosen goes even after Ctrl-C (a signal of its own), as backup --keep does.
    const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
    await applyPrune(quiet, journal, op, repo).then(
      () => first.details.push('the base backups and WAL chosen for removal were removed'),
      async (problem) => {
        // Closed with its cause rather than left running: a pending pitr-prune would stop every
        // later command on the tenant. What was not forgotten stays; the next base backup chooses again.
        await closeFailed(journal, op, problem).then(
          () => first.details.push(`removing the base backups and WAL chosen failed: ${messageOf(problem)}; nothing more was forgotten (the next base backup chooses again)`),
          () => first.details.push(`removing the base backups and WAL chosen failed: ${messageOf(problem)}; the next command on ${tenant} settles it`),
        );
      },
    );
    throw first;
  }
  ctx.reporter.info(`PITR retention of ${tenant} (keep ${policy.keepBaseBackups} base backups${policy.keepDays === undefined ? '' : ` and those of the last ${policy.keepDays} days`}): forgot ${choice.bases.length + choice.strayBases.length} base backups and ${choice.wal.length} WAL batches`);
  return { bases: choice.bases.length + choice.strayBases.length, wal: choice.wal.length };
}

/** Snapshots a running operation reads (a to-time restore's base and WAL), of any tenant. */
async function snapshotsInUse(db: AdminDb): Promise<Set<string>> {
  const { rows } = await db.pool.query(
    `SELECT data->'base'->>'snapshotId' AS base, data->'wal' AS wal FROM admin_operations WHERE state = 'running' AND verb = 'pitr-restore'`,
  ).catch(db.unreachable);
  const ids = new Set<string>();
  for (const r of rows) {
    if (r.base) ids.add(r.base);
    for (const w of (r.wal as Array<{ id: string }> | null) ?? []) ids.add(w.id);
  }
  return ids;
}

/**
 * The full ids to forget (pure: the unit tests give it colliding ids). A base's row holds restic's
 * short id (8 hex digits from restic 0.14's backup summary), so a doomed base is found among the
 * kind=pitr-base snapshots by prefix, and the whole run stops (forgetting nothing) when a doomed id
 * names more than one of them, or a snapshot a kept base's row names too: two snapshots sharing a
 * prefix must never cost the one kept. A doomed id naming none was forgotten already (a resumed run).
 * Stray bases and WAL batches are listed by full id and forgotten only when present exactly.
 */
export function snapshotsToForget(input: { intent: Pick<PitrPruneIntent, 'bases' | 'strayBases' | 'wal'>; baseSnapshots: readonly SnapshotSummary[]; walSnapshots: readonly SnapshotSummary[]; keptRows: readonly string[] }): string[] {
  const kept = (id: string) => input.keptRows.some((k) => id.startsWith(k));
  const refuse = (why: string) => new TenantctlError('repository', `PITR retention forgot nothing: ${why}`);
  const chosen: string[] = [];
  for (const doomed of input.intent.bases) {
    const matches = input.baseSnapshots.filter((s) => s.id.startsWith(doomed));
    if (matches.length > 1) throw refuse(`base backup ${doomed} names ${matches.length} snapshots (${matches.map((m) => m.id).join(', ')})`);
    if (matches[0] && kept(matches[0].id)) throw refuse(`base backup ${doomed}'s snapshot ${matches[0].id} is also named by a kept base backup`);
    if (matches[0]) chosen.push(matches[0].id);
  }
  const baseIds = new Set(input.baseSnapshots.map((s) => s.id));
  for (const stray of input.intent.strayBases) {
    if (!baseIds.has(stray)) continue;
    if (kept(stray)) throw refuse(`stray base snapshot ${stray} is named by a kept base backup`);
    chosen.push(stray);
  }
  const walIds = new Set(input.walSnapshots.map((s) => s.id));
  for (const w of input.intent.wal) if (walIds.has(w)) chosen.push(w);
  return [...new Set(chosen)];
}

async function applyPrune(ctx: Context, journal: OperationJournal, op: Operation<PitrPruneIntent>, repo: PitrRepository): Promise<void> {
  const db = journal.db;
  if (op.step === 'begun') {
    // The rows first: no to-time restore chooses a base from now on.
    await journal.step(op, 'rows-dropped', {}, async (client) => {
      await client.query('DELETE FROM admin_pitr_base_backups WHERE customer_id = $1 AND snapshot_id = ANY($2)', [op.tenant, op.data.bases]);
    });
    await ctx.pause('pitr-prune:rows-dropped');
  }
  // forget+prune take restic's exclusive lock: never while a backup streams into the repository.
  const location = configuredRepository(ctx.config);
  const release = location ? await holdRepository(db, location, 'exclusive') : undefined;
  let prune: PruneRun | undefined;
  try {
    const baseSnapshots = await snapshotsTagged(ctx, repo, baseTags(op.tenant));
    const walSnapshots = await snapshotsTagged(ctx, repo, walTags(op.tenant));
    // The rows left are the bases kept: none of their snapshots may be forgotten.
    const { rows } = await db.pool.query('SELECT snapshot_id FROM admin_pitr_base_backups WHERE customer_id = $1', [op.tenant]).catch(db.unreachable);
    // Chosen before a to-time restore began reading (a resumed run's choice may be old): never what it reads now.
    const inUse = [...(await snapshotsInUse(db))];
    const left = snapshotsToForget({ intent: op.data, baseSnapshots, walSnapshots, keptRows: rows.map((r) => r.snapshot_id as string) })
      .filter((id) => !inUse.some((u) => id.startsWith(u) || u.startsWith(id)));
    ctx.reporter.step(`forgetting ${left.length} base backup and WAL snapshots of ${op.tenant} no kept base backup needs`);
    // A prune is owed from the first forget on (recorded before it): whoever prunes next frees its data.
    if (location && left.length > 0) await markPruneOwed(db, location);
    for (let i = 0; i < left.length; i += 200) await repo.run(['forget', ...left.slice(i, i + 200)], { timeoutMs: resticForgetTimeoutMs, signal: ctx.signal });
    await journal.step(op, 'forgotten');
    await ctx.pause('pitr-prune:forgotten');
    // Once per repository per backups.pruneIntervalMinutes, not after every tenant's retention (prune-interval.ts).
    prune = location ? await pruneIfDue(ctx, db, location, (args, o) => repo.run(args, o)) : undefined;
    if (prune && !prune.pruned) ctx.reporter.info(prune.detail);
  } finally {
    await release?.();
  }
  await journal.finish(op, 'completed', null, (client) => recordAudit(db, client, op.tenant, 'pitr.pruned', null, {
    policy: op.data.policy, bases: op.data.bases, strayBases: op.data.strayBases, walBatches: op.data.wal.length, resticPrune: prune?.detail ?? null,
  }));
}

/** A pitr-prune that could not finish, closed as failed with its cause (audited); nothing more is forgotten. */
async function closeFailed(journal: OperationJournal, op: Operation<PitrPruneIntent>, cause: unknown): Promise<void> {
  const db = journal.db;
  await journal.finish(op, 'failed', messageOf(cause), (client) => recordAudit(db, client, op.tenant, 'pitr.prune-failed', null, {
    cause: messageOf(cause), bases: op.data.bases, strayBases: op.data.strayBases, walBatches: op.data.wal.length,
  }));
}

/**
 * Settles a PITR prune a killed run left: what it chose is removed, as it was asked to. Retention is
 * housekeeping: when that fails (the repository unreachable, a refused choice) the row is closed as
 * failed with its cause, forgetting nothing more, and the command that settles it goes on (a pending
 * pitr-prune must not block every verb of the tenant). A lost admin lock or Ctrl-C leaves it running.
 */
export async function resumePitrPrune(ctx: Context, op: Operation<PitrPruneIntent>): Promise<'finished' | 'undone'> {
  const journal = new OperationJournal(await ctx.adminDb());
  try {
    // As a retention run after a base backup: no shipment or to-time restore of the tenant meanwhile.
    const shipping = await shippingLock(ctx, op.tenant);
    try {
      const { openPitrRepository } = await import('./repo.js');
      await applyPrune(ctx, journal, op, await openPitrRepository(ctx));
    } finally {
      await shipping();
    }
    return 'finished';
  } catch (error) {
    if (error instanceof LostLockError || ctx.signal.aborted) throw error;
    await closeFailed(journal, op, error);
    ctx.reporter.info(`warning: the interrupted PITR retention of ${op.tenant} failed (${messageOf(error)}); closed as failed, nothing more forgotten`);
    return 'undone';
  }
}
