import { describe, expect, it } from 'vitest';
import { logicalPiecesOf, parseManifest, physicalPieceOf, sha256Of } from '../../src/backups/manifest.js';
import { otherPieceFiles, otherPiecesFor, requirePhysicalFit } from '../../src/backups/physical-other-pieces.js';
import { piecesFitProblems } from '../../src/backups/pieces-fit.js';
import { physicalSourceOf } from '../../src/pitr/restore-physical.js';
import type { Piece } from '../../src/backups/pieces.js';

// A physical backup of crm (PostgreSQL and Redis): its manifest names the cluster as the physical
// piece and Redis as a logical one; what its restore records of the other pieces; the refusals.

const image = { image: 'i', imageId: 'sha256:x' };
const db = { kind: 'postgres' as const, service: 'db', file: 'db.pgdata', ...image, version: 'PostgreSQL 16.4', method: 'physical' as const, major: 16, layout: 'files' as const, wal: 'db.pgwal.tar' };
const redis = { kind: 'redis' as const, service: 'redis', file: 'redis.rdb', ...image };
const entry = (n: number) => ({ bytes: n, sha256: String(n).padStart(64, '0') });
const files = { 'db.pgdata': entry(1000), 'db.pgwal.tar': entry(20), 'redis.rdb': entry(90), 'tenant.json': entry(5) };
const manifest = (pieces: Record<string, unknown>, withFiles: Record<string, unknown> = files) => JSON.stringify({ format: 'tenantctl-backup/2', id: 'b1', tenant: 'acme', createdAt: '2026-12-06T20:00:00Z', host: 'local', template: 'crm', pieces, files: withFiles });

const pgPiece = { name: 'db', kind: 'postgres', service: 'db', file: 'db.dump', database: 'tenant', user: 'tenant_owner' } as Piece;
const redisPiece = { name: 'redis', kind: 'redis', service: 'redis', file: 'redis.rdb', mount: '/data', entries: ['dump.rdb'] } as Piece;

describe('a physical backup with other pieces', () => {
  it('parses a mixed manifest: the cluster physical, Redis logical', () => {
    const text = manifest({ db, redis });
    const parsed = parseManifest('b1', text, sha256Of(text));
    expect(physicalPieceOf(parsed)).toEqual(db);
    expect(logicalPiecesOf(parsed)).toEqual({ redis });
    expect(otherPieceFiles(parsed)).toEqual({ redis: { kind: 'redis', file: 'redis.rdb' } });
    // A PostgreSQL-only physical backup (as before) has no other pieces.
    const alone = parseManifest('b1', manifest({ db }, { 'db.pgdata': entry(1000), 'db.pgwal.tar': entry(20), 'tenant.json': entry(5) }));
    expect(otherPieceFiles(alone)).toBeUndefined();
    // A postgres piece taken the logical way beside the physical cluster: no backup tenantctl makes, refused (exit 2).
    const twoClusters = { id: 'b1', pieces: { db, old: { ...db, method: undefined, layout: undefined, wal: undefined, file: 'old.dump' }, redis } };
    expect(() => otherPieceFiles(twoClusters)).toThrow(expect.objectContaining({ kind: 'usage', message: expect.stringMatching(/^backup b1 is unusable: its manifest names old \(postgres\) beside its physical cluster/) }));
    // A logical backup: every piece logical, none physical.
    const logical = parseManifest('b1', manifest({ db: { ...db, method: undefined, layout: undefined, wal: undefined, file: 'db.dump' }, redis }, { 'db.dump': entry(1), 'redis.rdb': entry(90), 'tenant.json': entry(5) }));
    expect(physicalPieceOf(logical)).toBeUndefined();
    expect(Object.keys(logicalPiecesOf(logical))).toEqual(['db', 'redis']);
  });

  it('refuses a manifest whose physical piece is not the one PostgreSQL cluster, or lacks its WAL tar', () => {
    expect(() => parseManifest('b1', manifest({ db, redis: { ...redis, method: 'physical' } }))).toThrow(/redis taken "physical": only a postgres piece/);
    expect(() => parseManifest('b1', manifest({ db, db2: { ...db } }))).toThrow(/2 physical pieces/);
    expect(() => parseManifest('b1', manifest({ db, redis }, { 'db.pgdata': entry(1000), 'redis.rdb': entry(90), 'tenant.json': entry(5) }))).toThrow(/lists no db.pgwal.tar/);
    expect(() => parseManifest('b1', manifest({ db: { ...db, wal: undefined }, redis }))).toThrow(/without its WAL tar/);
    expect(() => parseManifest('b1', manifest({ db, redis }, { 'db.pgdata': entry(1000), 'db.pgwal.tar': entry(20), 'tenant.json': entry(5) }))).toThrow(/lists no redis.rdb/);
  });

  it('records the other pieces in what the restore stages', () => {
    const parsed = parseManifest('b1', manifest({ db, redis }));
    const source = physicalSourceOf('b1', 'acme', db, parsed, { 'db.pgdata': 's1', 'db.pgwal.tar': 's2', 'redis.rdb': 's3' }, 's1');
    expect(source.others).toEqual({ redis: { kind: 'redis', file: 'redis.rdb' } });
    expect(source.layout).toBe('files');
    // Without the pieces (a caller with the files only) or with the cluster alone: no others.
    expect(physicalSourceOf('b1', 'acme', db, { files }, { 'db.pgdata': 's1', 'db.pgwal.tar': 's2' }, 's1').others).toBeUndefined();
  });

  it('resolves the target\'s other pieces with the backup\'s files, and refuses a tenant of another shape', () => {
    expect(otherPiecesFor('acme', [pgPiece, { ...redisPiece, file: 'x' }], { redis: { kind: 'redis', file: 'redis.rdb' } })).toEqual([redisPiece]);
    expect(() => otherPiecesFor('acme', [pgPiece], { redis: { kind: 'redis', file: 'redis.rdb' } })).toThrow(/acme has no redis \(redis\)/);
    const parsed = parseManifest('b1', manifest({ db, redis }));
    expect(() => requirePhysicalFit('b1', 'acme', parsed, [pgPiece, redisPiece])).not.toThrow();
    expect(() => requirePhysicalFit('b1', 'acme', parsed, [pgPiece])).toThrow(/backup b1 does not fit acme: it has redis \(redis\), which acme has not.*nothing was changed/);
    expect(() => requirePhysicalFit('b1', 'acme', parsed, [pgPiece, redisPiece, { ...redisPiece, name: 'cache' }])).toThrow(/cache \(redis\) is not in it/);
    expect(piecesFitProblems('acme', { db: { kind: 'postgres' } }, [{ name: 'db', kind: 'redis' }])).toEqual(['db (redis) is not in it']);
  });
});
