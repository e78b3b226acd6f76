import { describe, expect, it } from 'vitest';
import { nextBatch, systemOf, walForBase } from '../../src/pitr/cluster.js';
import { decideInFlight, type InFlightBatch } from '../../src/pitr/ship-in-flight.js';
import { choosePitrRetention } from '../../src/pitr/retention.js';

// WAL tied to its PostgreSQL cluster (src/pitr/cluster.ts): a tenant whose database was made anew
// (recover, a logical restore) has a new cluster whose segment names start over; its WAL and the
// old cluster's must never be replayed on each other's base, nor a volume's file of one cluster be
// taken for an in-flight batch of the other.

const X = '7400000000000000001';
const Y = '7400000000000000002';
const snap = (id: string, time: string, system?: string) => ({ id, time, paths: [`/wal-${id}.tar`], tags: ['tenant=acme', 'kind=wal', ...(system ? [`system=${system}`] : [])] });

describe('which WAL a to-time restore replays on its base', () => {
  const target = new Date('2026-12-06T12:00:00Z');

  it('takes only its base cluster\'s batches (and untagged ones, shipped before tagging); another cluster\'s shipped after the target are left out, said', () => {
    const batches = [snap('a', '2026-12-06T10:00:00Z', X), snap('u', '2026-12-06T10:30:00Z'), snap('b', '2026-12-06T11:00:00Z', X), snap('c', '2026-12-06T13:00:00Z', Y)];
    const choice = walForBase({ baseSnapshot: 'base1234', baseSystem: X, batches, target });
    expect(choice.refuse).toBeUndefined();
    expect(choice.use.map((s) => s.id)).toEqual(['a', 'u', 'b']);
    expect(choice.otherCluster).toEqual([{ id: 'c', system: Y }]);
  });

  it('refuses when another cluster was written before the target (the tenant was made anew, with no base of the new cluster before it)', () => {
    const batches = [snap('a', '2026-12-06T10:00:00Z', X), snap('c', '2026-12-06T11:30:00Z', Y), snap('d', '2026-12-06T11:45:00Z', Y)];
    const choice = walForBase({ baseSnapshot: 'base1234', baseSystem: X, batches, target });
    expect(choice.use).toEqual([]);
    expect(choice.refuse).toMatch(new RegExp(`cluster ${X}.*WAL of cluster ${Y} was shipped at 2026-12-06T11:30:00Z.*made anew`));
  });

  it('a base recorded before clusters were (no system): every batch, unless they come from two clusters', () => {
    const one = [snap('a', '2026-12-06T10:00:00Z', X), snap('u', '2026-12-06T10:30:00Z')];
    expect(walForBase({ baseSnapshot: 'base1234', baseSystem: null, batches: one, target }).use.map((s) => s.id)).toEqual(['a', 'u']);
    const two = [...one, snap('c', '2026-12-06T13:00:00Z', Y)];
    expect(walForBase({ baseSnapshot: 'base1234', baseSystem: null, batches: two, target }).refuse).toMatch(/without its cluster's system identifier.*2 clusters/);
  });

  it('reads a batch\'s cluster from its system= tag', () => {
    expect(systemOf(snap('a', '2026-12-06T10:00:00Z', X))).toBe(X);
    expect(systemOf(snap('u', '2026-12-06T10:00:00Z'))).toBeUndefined();
  });
});

describe('a shipment\'s batches, one cluster each', () => {
  const files = ['000000010000000000000003', '000000010000000000000004', '00000002.history', '000000010000000000000005'].map((name) => ({ name }));

  it('ships the first file\'s cluster first (an earlier cluster\'s leftovers), each batch of one cluster, headerless files as the running cluster\'s', () => {
    const systems = new Map([['000000010000000000000003', X], ['000000010000000000000004', Y], ['000000010000000000000005', X]]);
    const first = nextBatch(files, systems, Y, 512);
    expect(first).toMatchObject({ system: X, rest: 2 });
    expect(first.files.map((f) => f.name)).toEqual(['000000010000000000000003', '000000010000000000000005']);
    const second = nextBatch(files.filter((f) => !first.files.includes(f)), systems, Y, 512);
    expect(second).toMatchObject({ system: Y, rest: 0 });
    expect(second.files.map((f) => f.name)).toEqual(['000000010000000000000004', '00000002.history']);
  });

  it('holds at most the limit; nothing listed is an empty batch', () => {
    expect(nextBatch(files, new Map(), X, 2)).toMatchObject({ system: X, rest: 2 });
    expect(nextBatch([], new Map(), X, 2)).toEqual({ files: [], system: X, rest: 0 });
  });
});

describe('an in-flight batch of a cluster the tenant no longer runs', () => {
  const seg = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, '0')}`;
  const batch = (over: Partial<InFlightBatch> = {}): InFlightBatch => ({ file: `wal-${seg(1)}-${seg(3)}-abc123.tar`, names: [seg(1), seg(2), seg(3)], startedAt: '2026-12-06T12:00:00.000Z', system: X, ...over });
  const recorded = [{ id: 's1', time: '2026-12-06T12:00:05Z', paths: [`/wal-${seg(1)}-${seg(3)}-abc123.tar`], tags: ['kind=wal'] }];
  const now = Date.parse('2026-12-06T12:05:00Z');
  const inVolume = new Set([seg(1), seg(2), seg(3)]);

  it('never takes the new cluster\'s files of the same names for its own: none removed, its recorded batch kept, said', () => {
    // A recover restored the admin database with this entry; the new cluster's segments start over at the same names.
    const newCluster = new Map([[seg(1), Y], [seg(2), Y], [seg(3), Y]]);
    const [d] = decideInFlight([batch()], recorded, inVolume, now, newCluster);
    expect(d).toMatchObject({ forget: [], removeRest: [], settled: true });
    expect(d!.cause).toMatch(/made anew.*another cluster's and stay.*kept/);
    const [unrecorded] = decideInFlight([batch()], [], inVolume, now, newCluster);
    expect(unrecorded).toMatchObject({ forget: [], removeRest: [], settled: true });
  });

  it('with its own cluster\'s files still there it is settled as before (forgotten, they ship again)', () => {
    const same = new Map([[seg(1), X], [seg(2), X], [seg(3), X]]);
    expect(decideInFlight([batch()], recorded, inVolume, now, same)[0]).toMatchObject({ forget: ['s1'], settled: true });
    // Some of its files gone, one left of its cluster beside another cluster's: only its own is removed.
    const mixed = new Map([[seg(2), Y], [seg(3), X]]);
    expect(decideInFlight([batch()], recorded, new Set([seg(2), seg(3)]), now, mixed)[0]).toMatchObject({ forget: [], removeRest: [seg(3)] });
  });
});

describe('PITR retention with two clusters', () => {
  const day = (d: number, h = 3) => `2026-12-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00.000Z`;
  const base = (d: number, systemId: string | null) => ({ snapshotId: `b${d}`, startedAt: day(d), completedAt: day(d, 4), systemId });
  const baseSnapshots = [1, 3, 5].map((d) => ({ id: `b${d}${'0'.repeat(62)}`, time: day(d), paths: ['/pgdata.tar'] }));
  const now = Date.parse(day(5, 20));

  it('forgets a cluster\'s WAL older than that cluster\'s oldest kept base, keeping what the oldest kept base of all replays otherwise', () => {
    // Cluster X until day 4, then the tenant was made anew (Y); bases b1 (X), b3 (X), b5 (Y); all kept.
    const bases = [base(1, X), base(3, X), base(5, Y)];
    const walSnapshots = [snap('x1', day(1, 12), X), snap('x2', day(2, 12), X), snap('y4', day(4, 12), Y), snap('y5', day(5, 12), Y), snap('u2', day(2, 12))];
    const c = choosePitrRetention({ bases, baseSnapshots, walSnapshots, policy: { keepBaseBackups: 3 }, now });
    expect(c.bases).toEqual([]);
    // Y's WAL before Y's first base (b5, day 5) replays on no base of Y: it goes; X's after b1 stays; untagged stays.
    expect(c.wal).toEqual(['y4']);
  });

  it('a kept base of unknown cluster (recorded before 034) keeps the cutoff of all', () => {
    const bases = [base(1, null), base(3, X), base(5, Y)];
    const walSnapshots = [snap('y4', day(4, 12), Y)];
    expect(choosePitrRetention({ bases, baseSnapshots, walSnapshots, policy: { keepBaseBackups: 3 }, now }).wal).toEqual([]);
  });
});
