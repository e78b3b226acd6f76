import { incarnationOf, shippedAside } from './incarnation.js';
import type { SnapshotSummary } from './repo.js';

// Which WAL batches a to-time restore replays on its base (pure: the unit tests give it snapshots).
// Every batch is extracted into one folder that restore_command reads by segment name, so a batch of
// another incarnation of the tenant's database (made anew since: its segment names start over) would
// overwrite the base's own segments of the same names, or be replayed on a base it does not belong to.
// So only the base's incarnation's batches are taken, and a target that lies in another incarnation
// (one of its batches was shipped after the base began and before the target) is refused.
//
// Except a batch shipped from an aside folder (tag aside=1, ship.ts): WAL of a cluster that had
// STOPPED by then (a restore's replaced live cluster, or an undone restore's restored server),
// shipped whenever a shipper next ran, maybe long after the base began and while the base's own
// incarnation ran on (an undone restore puts it back). Its shipment time says nothing about which
// database ran at the target, so it is no evidence of the database made anew; it is still extracted
// for restores of its own incarnation. Safe: a database made anew ships its own WAL from its archive
// root (not aside) once it runs. Were an aside batch ever the only sign of it (the new database's
// WAL lost or not shipped yet), the restore replays the base's history alone, which ends before the
// target with no commit after it: PostgreSQL (13 and later; the images are 15) stops with "recovery
// ended before configured recovery target was reached" instead of promoting (volume-steps.ts sets
// recovery_target_time with recovery_target_action = 'promote'), its server exits, and
// restore-to-time.ts waitPromoted never sees it out of recovery: the restore fails (exit 7) and is
// undone, the live database put back. Nothing is silently restored to a wrong moment (the README's
// limit "not seen as such" already covers a made-anew database whose WAL is not shipped yet).

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
  // A base without one: the first incarnation named after it began by a batch from the archive root
  // (the running cluster's when shipped; an aside batch, shipped first in a run, is a stopped one's).
  const firstNamed = (from: readonly SnapshotSummary[]) => from.filter((s) => Date.parse(s.time) >= start).map(incarnationOf).find((i) => i !== undefined);
  const own = input.base.incarnation ?? firstNamed(window.filter((s) => !shippedAside(s))) ?? firstNamed(window) ?? null;
  const ours = (s: SnapshotSummary) => { const i = incarnationOf(s); return i === undefined || i === own; };
  const use = window.filter(ours);
  const others = window.filter((s) => !ours(s));
  // A batch of another incarnation shipped after the base began and by the target: the database was
  // made anew in between, so the base's history does not reach the target (its WAL ends where its
  // cluster did, or, restored since, continues elsewhere). An aside batch is no such sign (above).
  const before = others.find((s) => !shippedAside(s) && Date.parse(s.time) >= start && Date.parse(s.time) <= input.target.getTime());
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
