import type { Context } from '../context.js';
import { usageError } from '../common/errors.js';
import { resticQueryTimeoutMs } from '../common/timeouts.js';
import type { AdminDb } from '../admin-db/database.js';
import { openRepository } from '../repository/restic.js';
import { BackupStore } from './store.js';
import { manifestFile } from './manifest.js';
import { snapshotPath, tagOf, type Snapshot } from './in-repository.js';
import { backupsInUse, removeChosen } from './prune.js';

// Retention in the repository: `--keep-daily/--keep-weekly/--keep-monthly` (or per plan,
// plans.<plan>.backupRetention, applied by the agent's retention schedule), and `--keep N` as
// restic's --keep-last. restic's own policy decides, over the tenant's backups only: it is asked
// (`forget --dry-run` over the manifest snapshots, one per backup, tagged tenant=<id>) which
// backups it would remove; those are removed whole (every snapshot of each, then `restic prune`),
// journaled like --keep (prune.ts), so a backup is never left with some of its files forgotten.

export interface RetentionPolicy {
  last?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
}

const bound = (name: string, raw: unknown): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 10_000) throw usageError(`--keep-${name} ${JSON.stringify(String(raw))}: expected a whole number from 0 to 10000`);
  return n;
};

/** The policy of the flags, or undefined when none is given. */
export function parseRetention(raw: { daily?: unknown; weekly?: unknown; monthly?: unknown }): RetentionPolicy | undefined {
  const policy: RetentionPolicy = { daily: bound('daily', raw.daily), weekly: bound('weekly', raw.weekly), monthly: bound('monthly', raw.monthly) };
  const given = Object.fromEntries(Object.entries(policy).filter(([, v]) => v !== undefined)) as RetentionPolicy;
  if (Object.keys(given).length === 0) return undefined;
  if (Object.values(given).every((v) => v === 0)) throw usageError('a retention policy that keeps nothing (every --keep-* 0) would remove every backup; give at least one above 0');
  return given;
}

/** restic forget's flags for a policy. */
export function retentionFlags(policy: RetentionPolicy): string[] {
  return Object.entries(policy).flatMap(([k, v]) => (v === undefined || v === 0 ? [] : [`--keep-${k}`, String(v)]));
}

/** Which of the tenant's succeeded repository backups restic's policy removes (those an operation reads stay). */
export async function chooseByRetention(ctx: Context, db: AdminDb, tenant: string, policy: RetentionPolicy): Promise<string[]> {
  const repo = await openRepository(ctx);
  const groups = await repo.json<Array<{ remove: Snapshot[] | null }>>(
    ['forget', '--dry-run', '--no-lock', '--tag', `tenant=${tenant}`, '--path', `/${snapshotPath(tenant, manifestFile)}`, '--group-by', 'paths', ...retentionFlags(policy)],
    { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal },
  );
  const removed = new Set(groups.flatMap((g) => g.remove ?? []).map((s) => tagOf(s, 'backup')).filter((b): b is string => b !== undefined));
  const inUse = await backupsInUse(db);
  const succeeded = (await new BackupStore(db).list({ tenant })).filter((b) => b.state === 'succeeded' && b.repository !== null);
  return succeeded.map((b) => b.id).filter((b) => removed.has(b) && !inUse.has(b));
}

/** Applies the policy to the tenant's repository backups (the caller holds its lock); returns the ids removed. */
export async function pruneRepositoryBackups(ctx: Context, db: AdminDb, tenant: string, policy: RetentionPolicy): Promise<string[]> {
  const doomed = await chooseByRetention(ctx, db, tenant, policy);
  return removeChosen(ctx, db, tenant, doomed, policy as Record<string, number>);
}
