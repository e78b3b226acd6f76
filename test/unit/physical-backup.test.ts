import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { backupMethodFor, physicalFile, physicalPiece } from '../../src/backups/physical-snapshot.js';
import { physicalPieceOf } from '../../src/backups/manifest.js';
import type { Piece } from '../../src/backups/pieces.js';
import { tempDir } from './temp-dirs.js';

// The pure parts of physical backups: which method a backup takes (flag, plan setting, default),
// which piece it takes, and how a manifest says it is physical.

const pg = { name: 'db', kind: 'postgres', service: 'db', file: 'db.dump', database: 'tenant', user: 'tenant_owner' } as Piece;
const redis = { name: 'cache', kind: 'redis', service: 'redis', file: 'cache.rdb' } as Piece;

describe('physical backups', () => {
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
});
