// Which WAL a to-time restore replays when the tenant's database was made anew (src/pitr/wal-for-base.ts),
// and what a shipper does with an in-flight batch of an earlier incarnation (ship-in-flight.ts): pure.
import { describe, expect, it } from 'vitest';
import { walForBase } from '../../src/pitr/wal-for-base.js';
import { decideInFlight, type InFlightBatch } from '../../src/pitr/ship-in-flight.js';
import { asideTag, dataDirScript, idInFile, incarnationFile, incarnationOf, incarnationScript, noPgdata, shippedAside, stagedIncarnationScript } from '../../src/pitr/incarnation.js';
import { setAsideScript } from '../../src/pitr/archive-aside.js';
import { asideFolder } from '../../src/pitr/archive.js';
import { physicalStartScript } from '../../src/pitr/restore-to-time.js';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempDir } from './temp-dirs.js';

const A = 'a'.repeat(32);
const C = 'c'.repeat(32);
const at = (m: number, s = 0) => `2026-12-06T12:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.000Z`;
const batch = (id: string, time: string, incarnation?: string) => ({ id, time, paths: [`/wal-${id}.tar`], tags: ['tenant=acme', 'kind=wal', ...(incarnation ? [`incarnation=${incarnation}`] : [])] });
const ids = (c: { use: Array<{ id: string }> }) => c.use.map((s) => s.id);
/** A batch shipped from an aside folder (ship.ts tags it aside=1). */
const asideBatch = (id: string, time: string, incarnation: string) => { const b = batch(id, time, incarnation); return { ...b, tags: [...b.tags, asideTag] }; };

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

  it('a base of an incarnation that no longer runs reaches no further than its last batch: a target after it refused (the running one has no base before it)', () => {
    const old = [batch('a1', at(0, 30), A), batch('a2', at(5), A)];
    expect(walForBase({ tenant: 'acme', base, batches: old, target: new Date(at(6)), live: C }).refuse).toMatch(/no longer running, whose last WAL was shipped at 2026-12-06T12:05:00.000Z/);
    expect(ids(walForBase({ tenant: 'acme', base, batches: old, target: new Date(at(4)), live: C }))).toEqual(['a1', 'a2']);
    // The base's incarnation is the running one: its WAL goes on past its last batch (the restore ships first).
    expect(walForBase({ tenant: 'acme', base, batches: old, target: new Date(at(6)), live: A }).refuse).toBeUndefined();
  });

  it('a set-aside batch of another incarnation shipped after the base began is no sign of the database made anew: not refused, left out', () => {
    // The reviewer's case: base of A (running); a to-time restore to a moment in C's life undone after
    // its restored server started, its WAL set aside as .tenantctl-C and shipped at 12:10 while A ran on.
    const batches = [batch('a1', at(5), A), asideBatch('c-aside', at(10), C), batch('a2', at(15), A)];
    const c = walForBase({ tenant: 'acme', base: { ...base, startedAt: at(0) }, batches, target: new Date(at(14)), live: A });
    expect(c.refuse).toBeUndefined();
    expect(ids(c)).toEqual(['a1', 'a2']);
    expect(c.leftOut).toBe(1);
    // C's own restores still extract it (a base of C).
    expect(ids(walForBase({ tenant: 'acme', base: { snapshotId: 'bc', startedAt: at(6), incarnation: C }, batches, target: new Date(at(9)) }))).toEqual(['c-aside']);
    // The same batch shipped from the archive root (the running cluster's when shipped): still refused.
    const root = [batch('a1', at(5), A), batch('c1', at(10), C), batch('a2', at(15), A)];
    expect(walForBase({ tenant: 'acme', base: { ...base, startedAt: at(0) }, batches: root, target: new Date(at(14)), live: A }).refuse).toMatch(/made anew.*incarnation cccccccc was shipped at 2026-12-06T12:10:00.000Z/);
    // Beside a root batch of another incarnation, an aside one does not hide it.
    expect(walForBase({ tenant: 'acme', base: { ...base, startedAt: at(0) }, batches: [...batches, batch('c2', at(12), C)], target: new Date(at(14)) }).refuse).toMatch(/was shipped at 2026-12-06T12:12:00.000Z/);
  });

  it('a base recorded before incarnations takes the first incarnation a root batch names, not an aside batch shipped first in the same run', () => {
    const legacy = { snapshotId: 'b0000001', startedAt: at(0, 20), incarnation: null };
    const c = walForBase({ tenant: 'acme', base: legacy, batches: [batch('u1', at(1)), asideBatch('c-aside', at(3), C), batch('a3', at(3, 5), A)], target: new Date(at(4)) });
    expect(c.refuse).toBeUndefined();
    expect(c.incarnation).toBe(A);
    expect(ids(c)).toEqual(['u1', 'a3']);
    // Only aside batches named: the first of them, as before.
    expect(walForBase({ tenant: 'acme', base: legacy, batches: [batch('u1', at(1)), asideBatch('c-aside', at(3), C)], target: new Date(at(4)) }).incarnation).toBe(C);
  });

  it('the aside tag is read exactly', () => {
    expect(shippedAside({ tags: ['tenant=acme', 'kind=wal', `incarnation=${A}`, 'aside=1'] })).toBe(true);
    expect(shippedAside({ tags: ['aside=0'] })).toBe(false);
    expect(shippedAside({})).toBe(false);
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
  const run = (dataDir: string, id: string) =>
    spawnSync('sh', ['-c', incarnationScript, 'incarnation', dataDir, incarnationFile, id], { env: { PATH: process.env.PATH! }, encoding: 'utf8', timeout: 10_000 });
  const cluster = () => { const dir = tempDir('tct-incarnation-'); writeFileSync(path.join(dir, 'PG_VERSION'), '15\n'); return dir; };

  it('made once (0600, no temporary file left), then read: a later run\'s new id does not replace it', () => {
    const dir = cluster();
    const made = run(dir, A);
    expect(made.status, made.stderr).toBe(0);
    expect(idInFile(made.stdout)).toBe(A);
    expect(statSync(path.join(dir, incarnationFile)).mode & 0o777).toBe(0o600);
    expect(idInFile(run(dir, C).stdout)).toBe(A);
    expect(readdirSync(dir).sort()).toEqual(['PG_VERSION', incarnationFile]);
  });

  it('a file that does not hold exactly one id is never replaced: what it holds is read back, and refused', () => {
    const dir = cluster();
    for (const held of ['a torn wri', '', `${A}\n${C}\n`, `${A}x`]) {
      writeFileSync(path.join(dir, incarnationFile), held);
      const r = run(dir, C);
      expect(r.status, r.stderr).toBe(0);
      expect(idInFile(r.stdout)).toBeUndefined();
      expect(readFileSync(path.join(dir, incarnationFile), 'utf8')).toBe(held);
    }
    // At most 64 bytes are read, however large the file.
    writeFileSync(path.join(dir, incarnationFile), 'f'.repeat(100_000));
    expect(run(dir, C).stdout.length).toBe(64);
  });

  it('a symbolic link (the tenant\'s superuser owns PGDATA) or a FIFO is refused (exit 3), not followed nor waited on', () => {
    const dir = cluster();
    const elsewhere = path.join(tempDir('tct-incarnation-other-'), 'victim');
    writeFileSync(elsewhere, 'keep\n');
    symlinkSync(elsewhere, path.join(dir, incarnationFile));
    const r = run(dir, C);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/symbolic link/);
    expect(readFileSync(elsewhere, 'utf8')).toBe('keep\n');
    const fifoDir = cluster();
    expect(spawnSync('mkfifo', [path.join(fifoDir, incarnationFile)]).status).toBe(0);
    const f = run(fifoDir, C);
    expect(f.status).toBe(3);
    expect(f.stderr).toMatch(/not a regular file/);
  });

  it('the data directory and its owner: the one named, or $PGDATA when it holds a cluster; else it says so (the caller asks PostgreSQL)', () => {
    const dir = tempDir('tct-incarnation-');
    const where = (named: string, env: Record<string, string> = {}) => spawnSync('sh', ['-c', dataDirScript, 'incarnation', named], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' }).stdout.trim();
    expect(where('', { PGDATA: dir })).toBe(noPgdata);
    writeFileSync(path.join(dir, 'PG_VERSION'), '15\n');
    const owner = `${statSync(dir).uid}:${statSync(dir).gid}`;
    expect(where('', { PGDATA: dir })).toBe(`${owner} ${dir}`);
    expect(where(dir)).toBe(`${owner} ${dir}`);
    expect(where('')).toBe(noPgdata);
  });

  it('a staged cluster: in place it keeps its base\'s id; a physical restore and --as get the new one; a link or garbage is replaced', () => {
    const root = tempDir('tct-incarnation-stage-');
    const staged = '.tenantctl-pitr-abcd-data';
    mkdirSync(path.join(root, staged), { recursive: true });
    writeFileSync(path.join(root, staged, 'PG_VERSION'), '15\n');
    writeFileSync(path.join(root, staged, 'backup_label'), 'START WAL LOCATION: 0/2000028\n');
    const file = path.join(root, staged, incarnationFile);
    // As inDataVolume runs it: STAGED and WAL set (the start script gives both to the volume's owner).
    mkdirSync(path.join(root, '.tenantctl-pitr-abcd-wal'), { recursive: true });
    const stage = (script: string) => spawnSync('sh', ['-c', `set -eu\n${script}`], { cwd: root, env: { ...process.env, STAGED: staged, WAL: '.tenantctl-pitr-abcd-wal' }, encoding: 'utf8' });
    writeFileSync(file, `${A}\n`);
    const r = stage(physicalStartScript);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(path.join(root, staged, 'backup_label'))).toBe(true);
    expect(stage(stagedIncarnationScript(C, true)).stdout.trim()).toBe(A);
    expect(readFileSync(file, 'utf8')).toBe(`${A}\n`);
    expect(stage(stagedIncarnationScript(C, false)).stdout.trim()).toBe(C);
    expect(readFileSync(file, 'utf8')).toBe(`${C}\n`);
    writeFileSync(file, 'garbage');
    expect(stage(stagedIncarnationScript(A, true)).stdout.trim()).toBe(A);
    const victim = path.join(root, 'victim');
    writeFileSync(victim, 'keep');
    spawnSync('rm', ['-f', file]);
    symlinkSync(victim, file);
    expect(stage(stagedIncarnationScript(C, true)).stdout.trim()).toBe(C);
    expect(lstatSync(file).isSymbolicLink()).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('keep');
  });
});

describe('WAL a stopped cluster archived, set aside under its incarnation (archive-aside.ts)', () => {
  it('the root\'s files into .tenantctl-<id> (kept beside an earlier set-aside), copies in progress dropped; nothing to move makes no folder', () => {
    const root = tempDir('tct-archive-aside-');
    const set = (id: string) => spawnSync('sh', ['-c', `set -eu\n${setAsideScript(id)}`], { cwd: root, encoding: 'utf8' });
    expect(set(A).status).toBe(0);
    expect(readdirSync(root)).toEqual([]);
    writeFileSync(path.join(root, '000000010000000000000003'), 'y3');
    writeFileSync(path.join(root, '000000010000000000000004.part'), 'y4');
    mkdirSync(path.join(root, asideFolder(C)));
    writeFileSync(path.join(root, asideFolder(C), '000000010000000000000003'), 'c3');
    const r = set(A);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(root).sort()).toEqual([asideFolder(A), asideFolder(C)].sort());
    expect(readdirSync(path.join(root, asideFolder(A)))).toEqual(['000000010000000000000003']);
    expect(readFileSync(path.join(root, asideFolder(C), '000000010000000000000003'), 'utf8')).toBe('c3');
    expect(statSync(path.join(root, asideFolder(A))).mode & 0o777).toBe(0o700);
    expect(() => asideFolder('../x')).toThrow(/not an incarnation id/);
  });
});
