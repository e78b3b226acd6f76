import type { Context } from '../context.js';
import { LostLockError, type AdminDb } from '../admin-db/database.js';
import { messageOf } from '../common/errors.js';
import { resticForgetTimeoutMs } from '../common/timeouts.js';
import { holdRepository } from './hold.js';
import { repositoryKey } from './password.js';
import { configuredRepository, type RepositoryLocation } from './location.js';

// `restic prune` once per repository per interval (backups.pruneIntervalMinutes), not after every
// forget: prune reads the whole repository's index and repacks what forgotten snapshots leave
// half-used, so with many tenants on one repository, a prune after each tenant's retention was the
// expensive part of the fleet's backups (a forget only drops a small snapshot file). Bookkeeping in
// admin_repository_prunes (migration 035), per repository: a forget marks a prune owed before it
// runs (the intent before the effect), and a prune runs when one is owed and the last is older than
// the interval, then records when it ran. Everything here runs under the repository's exclusive
// hold (hold.ts: the forget's, or one taken for the prune alone), so two tenantctl processes never
// both decide to prune. An owed prune that was not due yet runs with the next retention run of any
// tenant on the repository after the interval (a retention run that forgets nothing still looks),
// or at once with `0`. A run killed between the prune and its record prunes again next time: harmless.

export interface PruneRun {
  /** Whether `restic prune` ran now. */
  pruned: boolean;
  /** Why not, or how long it took: for the command's output and the journal's audit row. */
  detail: string;
}

interface PruneRow { owedSince: Date | null; prunedAt: Date | null }

/** Whether a prune runs now (pure: the unit tests give it rows and clocks). */
export function pruneDue(row: PruneRow | undefined, intervalMinutes: number, now: number): { due: boolean; detail: string } {
  if (!row?.owedSince) return { due: false, detail: 'nothing forgotten since the last prune' };
  if (!row.prunedAt || intervalMinutes === 0) return { due: true, detail: 'due' };
  const next = row.prunedAt.getTime() + intervalMinutes * 60_000;
  if (now >= next) return { due: true, detail: 'due' };
  return { due: false, detail: `restic prune deferred: the last ran at ${row.prunedAt.toISOString()}, the next is due at ${new Date(next).toISOString()} (backups.pruneIntervalMinutes ${intervalMinutes}); the forgotten snapshots' data stays stored until then` };
}

async function pruneRow(db: AdminDb, location: RepositoryLocation): Promise<PruneRow | undefined> {
  const { rows } = await db.pool.query('SELECT owed_since, pruned_at FROM admin_repository_prunes WHERE repository_key = $1', [repositoryKey(location)]).catch(db.unreachable);
  return rows[0] ? { owedSince: rows[0].owed_since, prunedAt: rows[0].pruned_at } : undefined;
}

/** Written before a forget runs (the caller holds the repository exclusive): a prune is owed from now. */
export async function markPruneOwed(db: AdminDb, location: RepositoryLocation): Promise<void> {
  await db.pool.query(
    `INSERT INTO admin_repository_prunes (repository_key, repository, owed_since) VALUES ($1, $2, now())
     ON CONFLICT (repository_key) DO UPDATE SET owed_since = coalesce(admin_repository_prunes.owed_since, now()), repository = EXCLUDED.repository`,
    [repositoryKey(location), location.display],
  ).catch(db.unreachable);
}

/**
 * markPruneOwed for the configured repository, for a forget outside retention (a failed backup's
 * snapshots, a truncated or settled WAL batch): else its data stays stored until a retention run
 * forgets something. Under the forget's own hold (shared is enough: a prune, exclusive, cannot run
 * beside it, so it cannot clear the mark before the forget lands).
 */
export async function markConfiguredPruneOwed(ctx: Context): Promise<void> {
  const location = configuredRepository(ctx.config);
  if (location) await markPruneOwed(await ctx.adminDb(), location);
}

/**
 * Runs `restic prune` if one is owed and due (the caller holds the repository exclusive), and
 * records it. `run` is the repository's restic (its password and environment).
 */
export async function pruneIfDue(ctx: Context, db: AdminDb, location: RepositoryLocation, run: (args: string[], options: { timeoutMs: number; signal: AbortSignal }) => Promise<unknown>): Promise<PruneRun> {
  const decision = pruneDue(await pruneRow(db, location), ctx.config.backups.pruneIntervalMinutes, ctx.clock.now());
  if (!decision.due) return { pruned: false, detail: decision.detail };
  const started = ctx.clock.now();
  ctx.reporter.step('restic prune: removing data no snapshot uses any more');
  await run(['prune'], { timeoutMs: resticForgetTimeoutMs, signal: ctx.signal });
  const ms = ctx.clock.now() - started;
  // Owed no more: under the exclusive hold no forget ran meanwhile.
  await db.pool.query('UPDATE admin_repository_prunes SET owed_since = NULL, pruned_at = now(), prune_ms = $2 WHERE repository_key = $1', [repositoryKey(location), ms]).catch(db.unreachable);
  return { pruned: true, detail: `restic prune ran (${(ms / 1000).toFixed(1)} s)` };
}

/**
 * A prune owed and due, run without any forget (a retention run that chose nothing): looked up
 * without the hold first (one query, the common case: nothing due), then taken exclusive and
 * decided again under it. Best-effort: this tenant's retention had nothing to do, so a hold that
 * times out (another tenant's backup streaming) or a failed prune is a warning, not the tenant's
 * retention failing; the prune stays owed for the next run. Ctrl-C and a lost lock still end it.
 */
export async function pruneOwedIfDue(ctx: Context, db: AdminDb, location: RepositoryLocation, run: Parameters<typeof pruneIfDue>[3]): Promise<PruneRun | undefined> {
  if (!pruneDue(await pruneRow(db, location), ctx.config.backups.pruneIntervalMinutes, ctx.clock.now()).due) return undefined;
  try {
    const release = await holdRepository(db, location, 'exclusive');
    try {
      return await pruneIfDue(ctx, db, location, run);
    } finally {
      await release();
    }
  } catch (error) {
    if (ctx.signal.aborted || error instanceof LostLockError) throw error;
    const detail = `warning: the owed restic prune of ${location.display} did not run now (${messageOf(error)}); it stays owed for the next retention run`;
    ctx.reporter.info(detail);
    return { pruned: false, detail };
  }
}

export interface PruneState { owedSince: string | null; prunedAt: string | null; pruneMs: number | null; intervalMinutes: number; nextDueAt: string | null }

/** For `repository status`: when the last prune ran, whether one is owed and when it is due. */
export async function pruneState(ctx: Pick<Context, 'config' | 'clock'>, db: AdminDb, location: RepositoryLocation): Promise<PruneState> {
  const { rows } = await db.pool.query('SELECT owed_since, pruned_at, prune_ms FROM admin_repository_prunes WHERE repository_key = $1', [repositoryKey(location)]).catch(db.unreachable);
  const r = rows[0];
  const interval = ctx.config.backups.pruneIntervalMinutes;
  const owed = (r?.owed_since as Date | null | undefined) ?? null;
  const pruned = (r?.pruned_at as Date | null | undefined) ?? null;
  const nextDue = !owed ? null : !pruned || interval === 0 ? owed : new Date(Math.max(owed.getTime(), pruned.getTime() + interval * 60_000));
  return { owedSince: owed?.toISOString() ?? null, prunedAt: pruned?.toISOString() ?? null, pruneMs: r?.prune_ms ?? null, intervalMinutes: interval, nextDueAt: nextDue?.toISOString() ?? null };
}
