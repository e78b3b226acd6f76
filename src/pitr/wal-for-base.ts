import { incarnationOf } from './incarnation.js';
import type { SnapshotSummary } from './repo.js';

// Which WAL batches a to-time restore replays on its base (pure: the unit tests give it snapshots).
// Every batch is extracted into one folder that restore_command reads by segment name, so a batch of
// another incarnation of the tenant's database (made anew since: its segment names start over) would
// overwrite the base's own segments of the same names, or be replayed on a base it does not belong to.
// So only the base's incarnation's batches are taken, and a target that lies in another incarnation
// (one of its batches was shipped after the base began and before the target) is refused.

/** A batch shipped this long before its base began may still hold WAL the base needs (the two clocks' slack). */
export const walSlackMs = 60_000;

export interface WalChoice {
  /** The batches to replay, oldest first. */
  use: SnapshotSummary[];
  /** The incarnation taken (the base's, or for a base recorded before incarnations the one its batches name first); null: none named. */
  incarnation: string | null;
  /** Batches of the window left out: another incarnation's. */
  leftOut: number;
  /** Set when the target lies in another incarnation than the base's: the restore is refused with it (nothing staged). */
  refuse?: string;
}

/**
 * `live`: the running database's incarnation, when known: a base of another one reaches no further
 * than its incarnation's last batch. `batches`: the tenant's WAL snapshots. Batches without an incarnation (shipped before there were
 * any, or by an older tenantctl still running) are taken as before. A base recorded before
 * incarnations (null) is taken to be of the first incarnation its batches name after it began: its
 * cluster got one at its next shipment. (When that cluster was made anew before it ever got one, the
 * first named is the new cluster's: such a base replays as before, every batch since it.)
 */
export function walForBase(input: { tenant: string; base: { snapshotId: string; startedAt: string; incarnation: string | null }; batches: readonly SnapshotSummary[]; target: Date; live?: string }): WalChoice {
  const start = Date.parse(input.base.startedAt);
  const window = input.batches.filter((s) => Date.parse(s.time) >= start - walSlackMs).sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  const own = input.base.incarnation ?? window.map(incarnationOf).find((i, n) => i !== undefined && Date.parse(window[n]!.time) >= start) ?? null;
  const ours = (s: SnapshotSummary) => { const i = incarnationOf(s); return i === undefined || i === own; };
  const use = window.filter(ours);
  const others = window.filter((s) => !ours(s));
  // A batch of another incarnation shipped after the base began and by the target: the database was
  // made anew in between, so the base's history does not reach the target (its WAL ends where its
  // cluster did, or, restored since, continues elsewhere).
  const before = others.find((s) => Date.parse(s.time) >= start && Date.parse(s.time) <= input.target.getTime());
  if (before) {
    return {
      use: [], incarnation: own, leftOut: others.length,
      refuse: `no base backup of the database ${input.tenant} ran at ${input.target.toISOString()} completed before that moment: its database was made anew after the newest one, ${input.base.snapshotId.slice(0, 8)}${own ? ` (incarnation ${own.slice(0, 8)})` : ''}, began (WAL of incarnation ${incarnationOf(before)!.slice(0, 8)} was shipped at ${before.time}); restore to a moment before it was made anew, or take a base backup (tenantctl backup ${input.tenant}) and restore to moments after it`,
    };
  }
  // The base's incarnation is not the running database's: its WAL ended with its cluster, and its
  // last batch is the last of it. A target after that batch lies beyond its history (PostgreSQL would
  // end recovery before the target, and the restore be undone, exit 7).
  const last = use.filter((s) => incarnationOf(s) !== undefined).at(-1);
  if (input.live !== undefined && own !== null && own !== input.live && last && Date.parse(last.time) < input.target.getTime()) {
    return {
      use: [], incarnation: own, leftOut: others.length,
      refuse: `no base backup of the database ${input.tenant} ran at ${input.target.toISOString()} completed before that moment: the newest one, ${input.base.snapshotId.slice(0, 8)} (incarnation ${own.slice(0, 8)}), is of a database that is no longer running, whose last WAL was shipped at ${last.time}, and the running one (incarnation ${input.live.slice(0, 8)}) has no base backup before it; restore to a moment before ${last.time}, or take a base backup (tenantctl backup ${input.tenant}) and restore to moments after it`,
    };
  }
  return { use, incarnation: own, leftOut: others.length };
}
