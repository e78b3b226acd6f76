import type { Context } from '../context.js';
import { usageError } from '../common/errors.js';
import type { AdminDb } from '../admin-db/database.js';
import { BackupStore } from './store.js';
import { backupsInUse, removeChosen } from './prune.js';
import { methodOf } from './list.js';
import { sparingNewestLogical } from './keep-logical.js';

// Retention in the repository: `--keep-daily/--keep-weekly/--keep-monthly` (or per plan,
// plans.<plan>.backupRetention, applied by the agent's retention schedule), and `--keep N` as
// restic's --keep-last. restic's rules, applied here over the tenant's succeeded backups in
// admin_backups only (restic's own policy over the snapshots would count a killed backup's manifest
// snapshot as a day's keeper and remove the good one: removedByPolicy); the chosen are removed whole (every snapshot of each, then `restic prune`),
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

/** The ISO 8601 week of a UTC time as year*100+week (restic groups --keep-weekly the same way). */
function isoWeek(t: Date): number {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  return d.getUTCFullYear() * 100 + Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
}

const buckets: Array<[keyof RetentionPolicy, (t: Date) => number]> = [
  ['last', () => Number.NaN],
  ['daily', (t) => t.getUTCFullYear() * 10_000 + (t.getUTCMonth() + 1) * 100 + t.getUTCDate()],
  ['weekly', isoWeek],
  ['monthly', (t) => t.getUTCFullYear() * 100 + t.getUTCMonth() + 1],
];

/**
 * restic's --keep-last/daily/weekly/monthly rules (newest first, the newest of each day, ISO week or
 * month, up to N of each; days in UTC) applied over the tenant's succeeded backups only, so a failed
 * or killed backup's snapshots never take a day's place from a good one; the newest succeeded
 * backup is always kept. Returns the ids to remove. Pure: unit-tested over lists of backups.
 */
export function removedByPolicy(backups: ReadonlyArray<{ id: string; time: string }>, policy: RetentionPolicy): string[] {
  const newestFirst = [...backups].sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || b.id.localeCompare(a.id));
  const keep = new Set<string>();
  if (newestFirst[0]) keep.add(newestFirst[0].id);
  for (const [name, bucketOf] of buckets) {
    let left = policy[name] ?? 0;
    let previous: number | undefined;
    for (const b of newestFirst) {
      if (left <= 0) break;
      const bucket = bucketOf(new Date(b.time));
      if (!Number.isNaN(bucket) && bucket === previous) continue;
      previous = bucket;
      keep.add(b.id);
      left -= 1;
    }
  }
  return newestFirst.filter((b) => !keep.has(b.id)).map((b) => b.id);
}

/** Which of the tenant's succeeded repository backups the policy removes (those an operation reads stay). */
export async function chooseByRetention(db: AdminDb, tenant: string, policy: RetentionPolicy): Promise<string[]> {
  const succeeded = (await new BackupStore(db).list({ tenant })).filter((b) => b.state === 'succeeded' && b.repository !== null);
  const dated = succeeded.map((b) => ({ id: b.id, time: b.manifest?.createdAt ?? b.startedAt, method: methodOf(b) }));
  const removed = sparingNewestLogical(removedByPolicy(dated, policy), dated);
  const inUse = await backupsInUse(db);
  return removed.filter((b) => !inUse.has(b));
}

/** Applies the policy to the tenant's repository backups (the caller holds its lock); returns the ids removed. */
export async function pruneRepositoryBackups(ctx: Context, db: AdminDb, tenant: string, policy: RetentionPolicy): Promise<string[]> {
  const doomed = await chooseByRetention(db, tenant, policy);
  return removeChosen(ctx, db, tenant, doomed, policy as Record<string, number>);
}
