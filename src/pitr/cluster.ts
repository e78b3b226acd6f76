import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { superuserSql } from './archive.js';
import type { SnapshotSummary } from './repo.js';

// Which PostgreSQL cluster a WAL batch or base backup belongs to: its system identifier
// (pg_control_system()), fixed at initdb and kept by every physical copy (a base backup, a to-time
// restore of it). A tenant whose database is made anew (recover, a logical restore that re-creates
// its volumes) has a new cluster whose segment names start over (000000010000000000000001...):
// replayed on a base of the old one, or the old one's WAL on a base of the new one, is garbage or a
// recovery that stops in the wrong history. So every WAL batch is tagged system=<id> (and every
// in-flight entry carries it), every base backup's row records it, and a to-time restore replays
// only the WAL of its base's cluster (walForBase), refusing when the target lies where another
// cluster was written.

/** The system identifier of the cluster the container runs (a decimal uint64). */
export async function clusterSystemId(ctx: Context, container: string, anyRole: string): Promise<string> {
  const id = await superuserSql(ctx, container, anyRole, 'SELECT system_identifier FROM pg_control_system()', 'asking PostgreSQL for its system identifier');
  if (!/^\d{1,20}$/.test(id)) throw new TenantctlError('docker', `PostgreSQL answered ${JSON.stringify(id.slice(0, 80))} for its system identifier (pg_control_system())`);
  return id;
}

/** A WAL segment's name (or a partial one's): its first page's long header names its cluster. */
const segmentName = /^[0-9A-F]{24}(?:\.partial)?$/;

/**
 * The cluster each archived segment of `names` was written by, read from the segment itself: the
 * long page header at its start holds xlp_sysid (8 bytes at offset 24, little-endian). Read by the
 * running server (pg_read_binary_file as its superuser: the archive is mounted in its container),
 * one psql for the whole list. A file left in the volume by an earlier cluster (archived before
 * its database was made anew) is thus tagged with its own cluster, never the running one's. Files
 * without a header (timeline .history, .backup labels) and files gone meanwhile get none.
 */
export async function segmentSystems(ctx: Context, container: string, anyRole: string, names: readonly string[], mount: string): Promise<Map<string, string>> {
  const segments = names.filter((n) => segmentName.test(n));
  const systems = new Map<string, string>();
  if (segments.length === 0) return systems;
  // Names are hex (checked above): safe as literals.
  const sql = `SELECT f || ' ' || coalesce((SELECT string_agg(lpad(to_hex(get_byte(b, i)), 2, '0'), '' ORDER BY i DESC) FROM generate_series(0, 7) i), '')
    FROM (SELECT f, pg_read_binary_file('${mount}/' || f, 24, 8, true) AS b FROM unnest(ARRAY[${segments.map((n) => `'${n}'`).join(',')}]::text[]) f) x`;
  const out = await superuserSql(ctx, container, anyRole, sql, 'reading the system identifier of archived WAL segments');
  for (const line of out.split('\n')) {
    const [name, hex] = line.trim().split(' ');
    if (name && hex && /^[0-9a-f]{16}$/.test(hex)) systems.set(name, BigInt(`0x${hex}`).toString());
  }
  return systems;
}

export const systemTag = (system: string) => `system=${system}`;

/** The system a WAL snapshot is tagged with, or undefined (a batch shipped before batches were tagged). */
export function systemOf(snapshot: Pick<SnapshotSummary, 'tags'>): string | undefined {
  const tag = (snapshot.tags ?? []).find((t) => t.startsWith('system='));
  return tag?.slice('system='.length);
}

export interface WalChoice {
  /** The batches to replay, oldest first. */
  use: SnapshotSummary[];
  /** Batches of the window left out: another cluster's. */
  otherCluster: Array<{ id: string; system: string }>;
  /** Set when no batch set is safe: the restore is refused with it (nothing staged). */
  refuse?: string;
}

/**
 * The WAL batches a to-time restore replays on a base (pure: the unit tests give it snapshots).
 * `batches`: the tenant's WAL snapshots shipped since the base began (less the clocks' slack).
 * Only batches of the base's cluster (or untagged ones: shipped before tagging, trusted as before)
 * are used. A batch of another cluster shipped before the target proves that cluster was written
 * before the target: the base's cluster is not the tenant's history at that moment, and replaying
 * it would stop in the wrong one, so the restore is refused. A base recorded before its cluster
 * was (no system) takes every batch, unless the window holds batches of two clusters: then it
 * cannot tell which are its own, and refuses too.
 */
export function walForBase(input: { baseSnapshot: string; baseSystem: string | null | undefined; batches: readonly SnapshotSummary[]; target: Date }): WalChoice {
  const { baseSystem, target } = input;
  const tagged = input.batches.map((b) => ({ b, system: systemOf(b) }));
  if (!baseSystem) {
    const systems = [...new Set(tagged.flatMap((t) => (t.system ? [t.system] : [])))];
    if (systems.length > 1) {
      return { use: [], otherCluster: [], refuse: `base backup ${input.baseSnapshot.slice(0, 8)} was recorded without its cluster's system identifier, and the WAL shipped since it comes from ${systems.length} clusters (${systems.join(', ')}): the tenant's database was made anew in between, so which WAL belongs to that base cannot be told; take a base backup (tenantctl backup) and restore to a moment after it` };
    }
    return { use: [...input.batches], otherCluster: [] };
  }
  const use = tagged.filter((t) => t.system === undefined || t.system === baseSystem).map((t) => t.b);
  const otherCluster = tagged.filter((t) => t.system !== undefined && t.system !== baseSystem).map((t) => ({ id: t.b.id, system: t.system!, time: t.b.time }));
  const before = otherCluster.filter((o) => Date.parse(o.time) <= target.getTime());
  if (before.length > 0) {
    const first = before.reduce((a, b) => (Date.parse(a.time) <= Date.parse(b.time) ? a : b));
    return {
      use: [], otherCluster: otherCluster.map(({ id, system }) => ({ id, system })),
      refuse: `the newest base backup before ${target.toISOString()} (${input.baseSnapshot.slice(0, 8)}) is of PostgreSQL cluster ${baseSystem}, but WAL of cluster ${first.system} was shipped at ${first.time}, before that moment: the tenant's database was made anew (a recover or restore) in between, and no base backup of the new cluster completed before the target; restore to a moment after a base backup of the new cluster, or before ${first.time}`,
    };
  }
  return { use, otherCluster: otherCluster.map(({ id, system }) => ({ id, system })) };
}

/**
 * The next batch to ship (pure): the files of one cluster, in name order, at most `limit`. A
 * segment is its header's cluster; a file without a header (.history, .backup), or one whose header
 * could not be read, is the running cluster's (`current`), which archived it. The first file's
 * cluster goes first, so files an earlier cluster left in the volume ship (tagged as theirs) before
 * the running one's.
 */
export function nextBatch<F extends { name: string }>(files: readonly F[], systems: ReadonlyMap<string, string>, current: string, limit: number): { files: F[]; system: string; rest: number } {
  const systemOfFile = (f: F) => systems.get(f.name) ?? current;
  if (files.length === 0) return { files: [], system: current, rest: 0 };
  const system = systemOfFile(files[0]!);
  const same = files.filter((f) => systemOfFile(f) === system);
  const batch = same.slice(0, limit);
  return { files: batch, system, rest: files.length - batch.length };
}
