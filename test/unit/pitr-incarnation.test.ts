// Which WAL a to-time restore replays when the tenant's database was made anew (src/pitr/wal-for-base.ts),
// and what a shipper does with an in-flight batch of an earlier incarnation (ship-in-flight.ts): pure.
import { describe, expect, it } from 'vitest';
import { walForBase } from '../../src/pitr/wal-for-base.js';
import { decideInFlight, type InFlightBatch } from '../../src/pitr/ship-in-flight.js';
import { dropStagedIncarnation, incarnationFile, incarnationOf, incarnationScript, noPgdata } from '../../src/pitr/incarnation.js';
import { physicalStartScript } from '../../src/pitr/restore-to-time.js';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempDir } from './temp-dirs.js';

const A = 'a'.repeat(32);
const C = 'c'.repeat(32);
const at = (m: number, s = 0) => `2026-12-06T12:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.000Z`;
const batch = (id: string, time: string, incarnation?: string) => ({ id, time, paths: [`/wal-${id}.tar`], tags: ['tenant=acme', 'kind=wal', ...(incarnation ? [`incarnation=${incarnation}`] : [])] });
const ids = (c: { use: Array<{ id: string }> }) => c.use.map((s) => s.id);

describe('the WAL a to-time restore replays on its base', () => {
  // Incarnation A: base at 12:00, batches to 12:10; made anew at ~12:11 (C: its segment names start over); C ships from 12:12.
  const history = [batch('old', at(0, 0)), batch('a1', at(0, 30), A), batch('a2', at(5), A), batch('a3', at(10), A), batch('c1', at(12), C), batch('c2', at(15), C)];
  const base = { snapshotId: 'b1234567', startedAt: at(0, 20), incarnation: A };

  it('a target before the database was made anew: only the base\'s incarnation, never the new one\'s batches (their names collide)', () => {
    const c = walForBase({ tenant: 'acme', base, batches: history, target: new Date(at(8)) });
    expect(c.refuse).toBeUndefined();
    expect(ids(c)).toEqual(['old', 'a1', 'a2', 'a3']);
    expect(c.leftOut).toBe(2);
    expect(c.incarnation).toBe(A);
  });

  it('a target after the new incarnation shipped, with no base of it before: refused, naming the moment', () => {
    const c = walForBase({ tenant: 'acme', base, batches: history, target: new Date(at(13)) });
    expect(c.use).toEqual([]);
    expect(c.refuse).toMatch(/no base backup of the database acme ran at 2026-12-06T12:13:00.000Z/);
    expect(c.refuse).toContain(`incarnation ${C.slice(0, 8)} was shipped at ${at(12)}`);
    expect(c.refuse).toContain('tenantctl backup acme');
  });

  it('a base of the new incarnation: only its batches; the old one\'s within the slack before it are left out, not refused', () => {
    const c = walForBase({ tenant: 'acme', base: { snapshotId: 'b7654321', startedAt: at(10, 30), incarnation: C }, batches: history, target: new Date(at(16)) });
    expect(c.refuse).toBeUndefined();
    expect(ids(c)).toEqual(['c1', 'c2']);
    expect(c.leftOut).toBe(1);
  });

  it('batches before the base (beyond the clocks\' minute of slack) are not taken', () => {
    const c = walForBase({ tenant: 'acme', base: { ...base, startedAt: at(4, 30) }, batches: history, target: new Date(at(9)) });
    expect(ids(c)).toEqual(['a2', 'a3']);
  });

  it('untagged batches (shipped before incarnations) are taken as before', () => {
    const c = walForBase({ tenant: 'acme', base, batches: [batch('u1', at(1)), batch('a2', at(5), A), batch('u2', at(6))], target: new Date(at(7)) });
    expect(ids(c)).toEqual(['u1', 'a2', 'u2']);
  });

  it('a base recorded before incarnations: its batches and the first incarnation named after it; a later one left out, or refused when before the target', () => {
    const legacy = { snapshotId: 'b0000001', startedAt: at(0, 20), incarnation: null };
    const mixed = [batch('u1', at(1)), batch('u2', at(3)), batch('a3', at(10), A), batch('c1', at(12), C)];
    const before = walForBase({ tenant: 'acme', base: legacy, batches: mixed, target: new Date(at(11)) });
    expect(ids(before)).toEqual(['u1', 'u2', 'a3']);
    expect(before.incarnation).toBe(A);
    expect(walForBase({ tenant: 'acme', base: legacy, batches: mixed, target: new Date(at(12, 30)) }).refuse).toMatch(/made anew/);
    // Nothing tagged: every batch since the base, as before.
    expect(ids(walForBase({ tenant: 'acme', base: legacy, batches: [batch('u1', at(1)), batch('u2', at(3))], target: new Date(at(5)) }))).toEqual(['u1', 'u2']);
  });

  it('the restic tag is read strictly: a malformed incarnation tag counts as none', () => {
    expect(incarnationOf({ tags: [`incarnation=${A}`] })).toBe(A);
    expect(incarnationOf({ tags: ['incarnation=../x'] })).toBeUndefined();
    expect(incarnationOf({})).toBeUndefined();
  });
});

describe('an in-flight WAL batch of an earlier incarnation (brought back by recover with the admin database)', () => {
  const seg = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, '0')}`;
  const entry = (over: Partial<InFlightBatch> = {}): InFlightBatch => ({ file: `wal-${seg(1)}-${seg(3)}-abc123.tar`, names: [seg(1), seg(2), seg(3)], startedAt: '2026-12-06T12:00:00.000Z', incarnation: A, ...over });
  const snap = (id: string) => ({ id, time: '2026-12-06T12:00:05Z', paths: [`/wal-${seg(1)}-${seg(3)}-abc123.tar`], tags: ['tenant=acme', 'kind=wal'] });
  // The new cluster (C) archived segments of the same names.
  const newClusters = new Set([seg(1), seg(2), seg(3)]);
  const now = Date.parse('2026-12-06T12:05:00Z');

  it('recorded by restic: kept (the volume\'s files are the new database\'s, nothing is removed for it), settled, said', () => {
    const [d] = decideInFlight([entry()], [snap('s1')], newClusters, now, C);
    expect(d).toMatchObject({ forget: [], removeRest: [], settled: true });
    expect(d!.cause).toMatch(/made anew since.*kept.*are the new database's and stay/);
    // The same entry in its own incarnation: forgotten (its files ship again), as before.
    expect(decideInFlight([entry()], [snap('s1')], newClusters, now, A)[0]).toMatchObject({ forget: ['s1'], settled: true });
  });

  it('some of its names in the volume: none is removed for it (in its own incarnation the rest would be)', () => {
    const [d] = decideInFlight([entry()], [snap('s1')], new Set([seg(3)]), now, C);
    expect(d).toMatchObject({ forget: [], removeRest: [], settled: true });
    expect(decideInFlight([entry()], [snap('s1')], new Set([seg(3)]), now, A)[0]).toMatchObject({ removeRest: [seg(3)] });
  });

  it('never recorded: settled at once (its files went with its cluster), not looked at again for an hour', () => {
    const [d] = decideInFlight([entry()], [], newClusters, now, C);
    expect(d).toMatchObject({ forget: [], removeRest: [], settled: true });
    expect(d!.cause).toMatch(/went with its cluster/);
  });

  it('an entry written before incarnations is decided as before', () => {
    expect(decideInFlight([entry({ incarnation: undefined })], [snap('s1')], newClusters, now, C)[0]).toMatchObject({ forget: ['s1'], settled: true });
  });
});

describe('the incarnation file in the data directory (the script run in the database container)', () => {
  const run = (dataDir: string, id: string, env: Record<string, string> = {}) =>
    spawnSync('sh', ['-c', incarnationScript, 'incarnation', dataDir, incarnationFile, id], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });

  it('made once (0600), then read: a later run\'s new id does not replace it; a file without an id is replaced', () => {
    const dir = tempDir('tct-incarnation-');
    writeFileSync(path.join(dir, 'PG_VERSION'), '15\n');
    const made = run(dir, A);
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout.trim()).toBe(A);
    expect(statSync(path.join(dir, incarnationFile)).mode & 0o777).toBe(0o600);
    expect(run(dir, C).stdout.trim()).toBe(A);
    writeFileSync(path.join(dir, incarnationFile), 'a torn wri');
    expect(run(dir, C).stdout.trim()).toBe(C);
    expect(existsSync(path.join(dir, `${incarnationFile}.new`))).toBe(false);
  });

  it('without a directory named, $PGDATA when it holds a cluster; else it says so (the caller asks PostgreSQL)', () => {
    const dir = tempDir('tct-incarnation-');
    expect(run('', A, { PGDATA: dir }).stdout.trim()).toBe(noPgdata);
    writeFileSync(path.join(dir, 'PG_VERSION'), '15\n');
    expect(run('', A, { PGDATA: dir }).stdout.trim()).toBe(A);
    expect(readFileSync(path.join(dir, incarnationFile), 'utf8')).toBe(`${A}\n`);
    expect(run('', A).stdout.trim()).toBe(noPgdata);
  });

  it('dropped from what a physical restore and a restore --as stage (their history starts there)', () => {
    const root = tempDir('tct-incarnation-stage-');
    const staged = '.tenantctl-pitr-abcd-data';
    mkdirSync(path.join(root, staged), { recursive: true });
    writeFileSync(path.join(root, staged, 'PG_VERSION'), '15\n');
    writeFileSync(path.join(root, staged, 'backup_label'), 'START WAL LOCATION: 0/2000028\n');
    writeFileSync(path.join(root, staged, incarnationFile), `${A}\n`);
    const r = spawnSync('sh', ['-c', `set -eu\n${physicalStartScript}`], { cwd: root, env: { ...process.env, STAGED: staged }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(root, staged, incarnationFile))).toBe(false);
    expect(existsSync(path.join(root, staged, 'backup_label'))).toBe(true);
    writeFileSync(path.join(root, staged, incarnationFile), `${A}\n`);
    expect(spawnSync('sh', ['-c', `set -eu\n${dropStagedIncarnation}`], { cwd: root, env: { ...process.env, STAGED: staged } }).status).toBe(0);
    expect(existsSync(path.join(root, staged, incarnationFile))).toBe(false);
  });
});
