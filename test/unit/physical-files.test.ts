import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { walSegmentsBetween } from '../../src/backups/wal-segments.js';
import { listingCheckScript, listingOf, listingProblem } from '../../src/backups/data-listing.js';
import { dataExcludes } from '../../src/backups/physical-files.js';
import { physicalSourceOf } from '../../src/pitr/restore-physical.js';
import { tempDir } from './temp-dirs.js';

// The pure parts of a file-level physical backup: which WAL segments it copies, the data snapshot's
// listing (restic ls --json) and its hash, which the restore's staging script recomputes with
// find | sort | sha256sum over the staged folder, and what a restore reads of the manifest.

describe('WAL segments between a backup start and stop', () => {
  it('counts across a log id boundary of 16 MB segments', () => {
    expect(walSegmentsBetween('0000000100000002000000FE', '000000010000000300000001', 16 * 1024 * 1024)).toEqual([
      '0000000100000002000000FE', '0000000100000002000000FF', '000000010000000300000000', '000000010000000300000001',
    ]);
  });
  it('is one segment when start and stop share it; other segment sizes split the log id differently', () => {
    expect(walSegmentsBetween('000000010000000000000003', '000000010000000000000003', 16 * 1024 * 1024)).toEqual(['000000010000000000000003']);
    expect(walSegmentsBetween('00000001000000000000003F', '000000010000000100000000', 64 * 1024 * 1024)).toEqual(['00000001000000000000003F', '000000010000000100000000']);
  });
  it('refuses two timelines, a stop before the start and names that are not segments', () => {
    expect(() => walSegmentsBetween('000000010000000000000003', '000000020000000000000004', 16 * 1024 * 1024)).toThrow(/two timelines/);
    expect(() => walSegmentsBetween('000000010000000000000004', '000000010000000000000003', 16 * 1024 * 1024)).toThrow(/before its start/);
    expect(() => walSegmentsBetween('00000001000000000000000', '000000010000000000000003', 16 * 1024 * 1024)).toThrow(/not WAL segment names/);
  });
});

const root = '/tenantctl/acme/db.pgdata';
const node = (rel: string, size: number | undefined, type = 'file') => JSON.stringify({ name: path.basename(rel), type, path: `${root}/${rel}`, ...(size === undefined ? {} : { size }), struct_type: 'node' });
const ls = (entries: string[]) => [JSON.stringify({ time: 'x', paths: [root], struct_type: 'snapshot' }), JSON.stringify({ type: 'dir', path: '/tenantctl', struct_type: 'node' }), ...entries].join('\n');

describe("the data snapshot's listing", () => {
  const files: Array<[string, string]> = [['PG_VERSION', '16\n'], ['global/pg_control', 'c'.repeat(8192)], ['base/1/1259', 'x'.repeat(100)], ['base/1/1259_fsm', ''], ['base/10/112', 'yy']];
  const listing = listingOf(ls([node('base', undefined, 'dir'), ...files.map(([f, c]) => node(f, c.length === 0 ? undefined : c.length))]), root);

  it('counts files and bytes under the data folder only (an empty file has no size in restic ls)', () => {
    expect(listing.files).toBe(5);
    expect(listing.bytes).toBe(3 + 8192 + 100 + 0 + 2);
    expect(listingProblem(listing, { files: 5, bytes: 8297 })).toBeUndefined();
  });

  it('is a problem when restic reported other numbers, or a cluster file is missing, or a left-out file is in', () => {
    expect(listingProblem(listing, { files: 6, bytes: 8297 })).toMatch(/lists 5 files of 8297 bytes, and restic reported reading 6 files/);
    const noControl = listingOf(ls([node('PG_VERSION', 3)]), root);
    expect(listingProblem(noControl, { files: 1, bytes: 3 })).toMatch(/no global\/pg_control/);
    const withPid = listingOf(ls([node('PG_VERSION', 3), node('global/pg_control', 1), node('postmaster.pid', 5)]), root);
    expect(listingProblem(withPid, { files: 3, bytes: 9 })).toMatch(/postmaster.pid/);
  });

  it('hashes to what the restore script computes over the same files staged, and to something else when one differs', () => {
    const volume = tempDir('tct-physical-files-');
    const staged = path.join(volume, '.tenantctl-pitr-abcd-data');
    for (const [file, content] of files) {
      mkdirSync(path.dirname(path.join(staged, file)), { recursive: true });
      writeFileSync(path.join(staged, file), content);
    }
    mkdirSync(path.join(staged, 'pg_wal'), { recursive: true });
    const run = () => spawnSync('sh', ['-c', `set -eu\ncd "${volume}"\n${listingCheckScript(listing.sha256)}`], { env: { ...process.env, STAGED: '.tenantctl-pitr-abcd-data' }, encoding: 'utf8' });
    const ok = run();
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    writeFileSync(path.join(staged, 'base/10/112'), 'yyy');
    const bad = run();
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/not the ones the backup listed/);
  });
});

describe('what a file-level backup leaves out, and what its restore reads', () => {
  it('excludes WAL and the run-time state under its own mount path only', () => {
    const ex = dataExcludes(root);
    expect(ex).toContain(`${root}/pg_wal/*`);
    expect(ex).toContain(`${root}/postmaster.pid`);
    expect(ex).toContain(`${root}/.tenantctl-*`);
    expect(ex.filter((a) => a === '--exclude')).toHaveLength(ex.length / 2);
  });

  it('stages the data folder and the WAL tar of a files layout; pg_basebackup tars as before', () => {
    const piece = { kind: 'postgres' as const, service: 'db', file: 'db.pgdata', image: 'i', imageId: 'sha', method: 'physical' as const, major: 16, layout: 'files' as const, wal: 'db.pgwal.tar' };
    const files = { 'db.pgdata': { bytes: 1000, sha256: 'a'.repeat(64) }, 'db.pgwal.tar': { bytes: 20, sha256: 'b'.repeat(64) } };
    expect(physicalSourceOf('b1', 'acme', piece, { files }, { 'db.pgdata': 's1', 'db.pgwal.tar': 's2' }, 's1')).toEqual({
      backup: 'b1', snapshotId: 's1', file: '/tenantctl/acme/db.pgdata', bytes: 1020, layout: 'files', listingSha256: 'a'.repeat(64),
      wal: { snapshotId: 's2', file: '/tenantctl/acme/db.pgwal.tar', sha256: 'b'.repeat(64) },
    });
    expect(() => physicalSourceOf('b1', 'acme', piece, { files }, { 'db.pgdata': 's1' }, 's1')).toThrow(/no WAL tar/);
    const tar = { ...piece, file: 'db.pgdata.tar', layout: undefined, wal: undefined };
    expect(physicalSourceOf('b1', 'acme', tar, { files: { 'db.pgdata.tar': { bytes: 5, sha256: 'c'.repeat(64) } } }, {}, 's9')).toEqual({ backup: 'b1', snapshotId: 's9', file: '/tenantctl/acme/db.pgdata.tar', bytes: 5, sha256: 'c'.repeat(64) });
  });
});
