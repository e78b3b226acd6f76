import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { backupMethodFor, chooseBackupMethod, physicalFile, physicalPiece, physicalRefusal, pieceMethod } from '../../src/backups/physical-snapshot.js';
import { sparingNewestLogical } from '../../src/backups/keep-logical.js';
import { removedByPolicy } from '../../src/backups/retention.js';
import { physicalPieceOf } from '../../src/backups/manifest.js';
import { declaredPieces, type Piece } from '../../src/backups/pieces.js';
import { tempDir } from './temp-dirs.js';

// The pure parts of physical backups: which method a backup takes (flag, plan setting, default),
// which piece it takes, and how a manifest says it is physical.

const pg = { name: 'db', kind: 'postgres', service: 'db', file: 'db.dump', database: 'tenant', user: 'tenant_owner' } as Piece;
const redis = { name: 'cache', kind: 'redis', service: 'redis', file: 'cache.rdb' } as Piece;
const sqlite = { name: 'files', kind: 'sqlite', service: 'backend', file: 'files.sqlite' } as Piece;

describe('physical backups', () => {
  it('--physical --all counts the PostgreSQL pieces a tenant has for its profiles, not every one its template declares', () => {
    // frontbase's shape: its PostgreSQL only with the postgres profile.
    const template = {
      text: 'services:\n  backend: { image: b }\n  redis: { image: r }\n  postgres: { image: "{{image_postgres}}", profiles: [postgres] }\n',
      block: { state: { files: { sqlite: { service: 'backend', path: '/d/f.db' } }, cache: { redis: { service: 'redis', dir: '/data' } }, db: { postgres: { service: 'postgres', database: 'x' } } } },
    } as unknown as Parameters<typeof declaredPieces>[0];
    expect(physicalRefusal(declaredPieces(template, ['postgres']))).toBeUndefined();
    expect(physicalRefusal(declaredPieces(template, []))).toMatch(/^it has 0 PostgreSQL pieces \(its template and profiles/);
  });

  it('takes the method from --physical, else plans.<plan>.backupMethod, else logical', () => {
    const cwd = tempDir('tct-physical-');
    writeFileSync(path.join(cwd, 'tenantctl.config.yaml'), 'plans:\n  enterprise:\n    backupMethod: physical\n');
    const { config, errors } = loadConfig({ cwd, env: {} });
    expect(errors).toEqual([]);
    const ctx = { config: config! };
    expect(backupMethodFor(ctx, 'enterprise')).toBe('physical');
    expect(backupMethodFor(ctx, 'starter')).toBe('logical');
    expect(backupMethodFor(ctx, 'starter', true)).toBe('physical');
    expect(backupMethodFor(ctx, 'no-such-plan')).toBe('logical');
  });

  it('refuses a backupMethod that is neither logical nor physical', () => {
    const cwd = tempDir('tct-physical-');
    writeFileSync(path.join(cwd, 'tenantctl.config.yaml'), 'plans:\n  enterprise:\n    backupMethod: snapshot\n');
    const { config, errors } = loadConfig({ cwd, env: {} });
    expect(config).toBeUndefined();
    expect(errors.join('\n')).toMatch(/backupMethod/);
  });

  it('takes the one PostgreSQL piece, and refuses a template with none or two', () => {
    expect(physicalPiece([redis, pg], 'acme', 'crm')).toBe(pg);
    expect(() => physicalPiece([redis], 'acme', 'cache-only')).toThrow(/declares 0 postgres state pieces/);
    expect(() => physicalPiece([pg, { ...pg, name: 'db2' }], 'acme', 'two')).toThrow(/declares 2 postgres/);
    expect(physicalFile(pg)).toBe('db.pgdata.tar');
  });

  it('knows a physical backup by its manifest piece', () => {
    const base = { service: 'db', image: 'postgres:16', imageId: 'sha256:x' };
    expect(physicalPieceOf({ pieces: { db: { ...base, kind: 'postgres', file: 'db.dump' } } })).toBeUndefined();
    const piece = { ...base, kind: 'postgres' as const, file: 'db.pgdata.tar', method: 'physical' as const, major: 16 };
    expect(physicalPieceOf({ pieces: { db: piece } })).toEqual(piece);
  });

  it('refuses --physical unless the tenant\'s state has exactly one PostgreSQL piece (others beside it are fine), and a plan\'s physical falls back to logical with a warning', () => {
    const base = { tenant: 'acme', plan: 'pro', planMethod: 'logical' as const, pitr: false, repository: true };
    expect(chooseBackupMethod({ ...base, pieces: [pg], asked: 'physical' })).toEqual({ method: 'physical' });
    // crm's shape: PostgreSQL and Redis (and frontbase-like SQLite or volumes beside one cluster).
    expect(chooseBackupMethod({ ...base, pieces: [pg, redis], asked: 'physical' })).toEqual({ method: 'physical' });
    expect(chooseBackupMethod({ ...base, pieces: [redis, pg, sqlite], asked: 'physical' })).toEqual({ method: 'physical' });
    expect(() => chooseBackupMethod({ ...base, pieces: [redis], asked: 'physical' })).toThrow(/0 PostgreSQL pieces/);
    expect(() => chooseBackupMethod({ ...base, pieces: [pg, { ...pg, name: 'db2' }, redis], asked: 'physical' })).toThrow(/2 PostgreSQL pieces/);
    expect(() => chooseBackupMethod({ ...base, pieces: [sqlite], asked: 'physical' })).toThrow(expect.objectContaining({ kind: 'usage', message: expect.stringMatching(/0 PostgreSQL pieces \(its template and profiles/) }));
    expect(() => chooseBackupMethod({ ...base, pieces: [pg], asked: 'physical', pitr: true })).toThrow(/point-in-time recovery/);
    const byPlan = { ...base, planMethod: 'physical' as const };
    expect(chooseBackupMethod({ ...byPlan, pieces: [pg] })).toEqual({ method: 'physical' });
    expect(chooseBackupMethod({ ...byPlan, pieces: [pg, redis] })).toEqual({ method: 'physical' });
    const fallback = chooseBackupMethod({ ...byPlan, pieces: [sqlite] });
    expect(fallback.method).toBe('logical');
    expect(fallback.warning).toMatch(/0 PostgreSQL pieces.*backed up logically/);
    expect(chooseBackupMethod({ ...byPlan, pieces: [pg], repository: false })).toMatchObject({ method: 'logical', warning: expect.stringMatching(/no backups.repository/) });
    expect(chooseBackupMethod({ ...byPlan, pieces: [pg, redis], asked: 'logical' })).toEqual({ method: 'logical' });
    expect(physicalRefusal([pg, redis, sqlite])).toBeUndefined();
    expect(physicalRefusal([redis])).toMatch(/0 PostgreSQL/);
  });

  it('takes the PostgreSQL piece of a physical backup physically and every other piece logically', () => {
    expect(pieceMethod(pg, 'physical')).toBe('physical');
    expect(pieceMethod(redis, 'physical')).toBe('logical');
    expect(pieceMethod(sqlite, 'physical')).toBe('logical');
    expect(pieceMethod(pg, 'logical')).toBe('logical');
    expect(pieceMethod(pg, undefined)).toBe('logical');
  });

  it('refuses a plan with both pitr and backupMethod physical at config load', () => {
    const cwd = tempDir('tct-physical-');
    writeFileSync(path.join(cwd, 'tenantctl.config.yaml'), 'plans:\n  enterprise:\n    pitr: true\n    backupMethod: physical\n');
    const { config, errors } = loadConfig({ cwd, env: {} });
    expect(config).toBeUndefined();
    expect(errors.join('\n')).toMatch(/backupMethod physical cannot be used with pitr/);
  });

  it('retention always keeps the newest logical backup besides what its rules keep', () => {
    const backups = [
      { id: 'p3', time: '2026-12-06T03:00:00Z', method: 'physical' as const },
      { id: 'p2', time: '2026-12-06T02:00:00Z', method: 'physical' as const },
      { id: 'l1', time: '2026-12-06T01:00:00Z', method: 'logical' as const },
      { id: 'l0', time: '2026-12-06T00:00:00Z', method: 'logical' as const },
    ];
    const byRules = removedByPolicy(backups, { last: 1 });
    expect(byRules).toEqual(['p2', 'l1', 'l0']);
    expect(sparingNewestLogical(byRules, backups)).toEqual(['p2', 'l0']);
    // Only logical backups: the rules' own choice stands (the newest is kept by them already).
    const logical = backups.filter((b) => b.method === 'logical');
    expect(sparingNewestLogical(removedByPolicy(logical, { last: 1 }), logical)).toEqual(['l0']);
  });
});
