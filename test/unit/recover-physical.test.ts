import { describe, expect, it } from 'vitest';
import { chooseNewestUsable, consideredBackups, type BackupCandidate } from '../../src/recover/backup-candidates.js';
import { physicalPiecesProblem, physicalUnusable } from '../../src/recover/physical-backup.js';
import { declaredPieces } from '../../src/backups/pieces.js';
import { physicalCheck } from '../../src/recover/tenant-backups.js';
import { TenantctlError } from '../../src/common/errors.js';
import type { BackupManifest } from '../../src/backups/manifest.js';
import { majorMismatch } from '../../src/pitr/image-major.js';

// recover and physical backups (src/recover/backup-candidates.ts chooseNewestUsable,
// src/recover/physical-backup.ts, src/pitr/image-major.ts): which backup of a tenant it restores
// when logical and physical ones are mixed, and what it refuses of a physical one. Pure parts.

const candidate = (backup: string, time: string): BackupCandidate => ({ backup, origin: 'repository', time, snapshots: { 'manifest.json': 'm' }, manifestSha256: null });
const candidates = [candidate('acme-3', '2026-12-06T12:00:00Z'), candidate('acme-2', '2026-12-06T11:00:00Z'), candidate('acme-1', '2026-12-06T10:00:00Z')];
const kinds: Record<string, 'logical' | 'physical'> = { 'acme-3': 'physical', 'acme-2': 'logical', 'acme-1': 'physical' };
class PassOver extends Error {}
const passOver = (error: unknown) => (error instanceof PassOver ? error.message : undefined);

describe('the backup recover restores when logical and physical ones are mixed', () => {
  it('the newest that verifies, whatever its kind: a physical one newer than a logical one is chosen, the older ones never read', async () => {
    const read: string[] = [];
    const got = await chooseNewestUsable(candidates, async (c) => { read.push(c.backup); return { method: kinds[c.backup]! }; }, passOver);
    expect(got.chosen?.candidate.backup).toBe('acme-3');
    expect(got.chosen?.value.method).toBe('physical');
    expect(read).toEqual(['acme-3']);
    const considered = consideredBackups(candidates, [], got.verdicts);
    expect(considered[0]).toMatchObject({ backup: 'acme-3', decision: 'chosen', method: 'physical', reason: expect.stringMatching(/newest that verifies, physical: .*listing.*cluster itself/) });
    expect(considered.slice(1).map((c) => [c.backup, c.decision, c.reason])).toEqual([['acme-2', 'not-read', 'older than acme-3, which was chosen'], ['acme-1', 'not-read', 'older than acme-3, which was chosen']]);
  });

  it('a physical one it cannot restore is passed over with why, and the next older (logical) one chosen', async () => {
    const got = await chooseNewestUsable(candidates, async (c) => {
      if (c.backup === 'acme-3') throw new PassOver('physical, and plan pro has point-in-time recovery');
      return { method: kinds[c.backup]! };
    }, passOver);
    expect(got.chosen?.candidate.backup).toBe('acme-2');
    expect(got.passed).toEqual([{ backup: 'acme-3', reason: 'physical, and plan pro has point-in-time recovery' }]);
    const considered = consideredBackups(candidates, [], got.verdicts);
    expect(considered.map((c) => [c.backup, c.decision, c.method])).toEqual([['acme-3', 'passed-over', undefined], ['acme-2', 'chosen', 'logical'], ['acme-1', 'not-read', undefined]]);
    expect(considered[1]!.reason).toMatch(/newest that verifies: its manifest and every file read back/);
  });

  it('none usable: every one passed over; an error that is no pass-over (an interruption) stops the choice', async () => {
    const none = await chooseNewestUsable(candidates, async (c) => { throw new PassOver(`bad ${c.backup}`); }, passOver);
    expect(none.chosen).toBeUndefined();
    expect(none.passed.map((p) => p.reason)).toEqual(['bad acme-3', 'bad acme-2', 'bad acme-1']);
    await expect(chooseNewestUsable(candidates, async () => { throw new Error('interrupted'); }, passOver)).rejects.toThrow('interrupted');
  });
});

describe('what recover refuses of a physical backup', () => {
  const pg = { kind: 'postgres', service: 'db', file: 'db.pgdata', image: 'tenantctl/postgres:15', imageId: 'sha256:x', method: 'physical', major: 15, layout: 'files', wal: 'db.pgwal.tar' } as const;
  const plan = { name: 'starter', pitr: false };

  it('takes the cluster alone on a plan without pitr; a logical backup is not its business', () => {
    expect(physicalUnusable({ id: 'acme-1', tenant: 'acme', pieces: { db: pg } }, plan)).toBeUndefined();
    expect(physicalUnusable({ id: 'acme-2', tenant: 'acme', pieces: { db: { ...pg, method: undefined, file: 'db.dump' } } }, { name: 'pro', pitr: true })).toBeUndefined();
  });

  const redis = { kind: 'redis', service: 'redis', file: 'cache.rdb', image: 'redis', imageId: 'x' } as const;

  it('takes one with other pieces beside the cluster (crm\'s Redis); passes over one of a plan with pitr, saying why', () => {
    expect(physicalUnusable({ id: 'acme-1', tenant: 'acme', pieces: { db: pg, cache: redis } }, plan)).toBeUndefined();
    expect(physicalUnusable({ id: 'acme-1', tenant: 'acme', pieces: { db: pg } }, { name: 'pro', pitr: true })).toMatch(/plan pro has point-in-time recovery/);
  });

  it('passes over one whose pieces do not fit the tenant its template and profiles make, naming each', () => {
    const manifest = { tenant: 'acme', pieces: { db: pg, cache: redis } };
    expect(physicalPiecesProblem(manifest, [{ name: 'db', kind: 'postgres' }, { name: 'cache', kind: 'redis' }])).toBeUndefined();
    expect(physicalPiecesProblem(manifest, [{ name: 'db', kind: 'postgres' }])).toMatch(/^physical, and its pieces do not fit .*it has cache \(redis\), which acme has not/);
    expect(physicalPiecesProblem({ tenant: 'acme', pieces: { db: pg } }, [{ name: 'db', kind: 'postgres' }, { name: 'cache', kind: 'redis' }])).toMatch(/cache \(redis\) is not in it/);
  });

  it('the pieces a tenant will have: its template\'s state whose service runs for its profiles', () => {
    const template = {
      text: 'services:\n  app: { image: a }\n  db: { image: "{{image_postgres}}" }\n  cache: { image: r, profiles: [cache] }\n',
      block: { state: { db: { postgres: { service: 'db', database: 'x' } }, cache: { redis: { service: 'cache', dir: '/data' } } } },
    } as unknown as Parameters<typeof declaredPieces>[0];
    expect(declaredPieces(template, [])).toEqual([{ name: 'db', kind: 'postgres' }]);
    expect(declaredPieces(template, ['cache'])).toEqual([{ name: 'db', kind: 'postgres' }, { name: 'cache', kind: 'redis' }]);
  });

  it('a physical one whose major the template\'s image does not run is passed over in its verification, and the older logical one chosen', async () => {
    const manifests: Record<string, Pick<BackupManifest, 'id' | 'tenant' | 'pieces'>> = {
      'acme-3': { id: 'acme-3', tenant: 'acme', pieces: { db: pg } },
      'acme-2': { id: 'acme-2', tenant: 'acme', pieces: { db: { ...pg, method: undefined, layout: undefined, wal: undefined, file: 'db.dump' } } },
    };
    const asked: string[] = [];
    const scope = { plan, physicalProblem: async (m: BackupManifest) => { asked.push(m.id); return 'physical backup acme-3 is a PostgreSQL 15 cluster and template crm\'s db service runs image postgres:16, PostgreSQL 16'; } };
    const got = await chooseNewestUsable(candidates, async (c) => {
      const why = await physicalCheck(manifests[c.backup] as BackupManifest, scope);
      if (why) throw new TenantctlError('usage', why);
      return { method: kinds[c.backup]! };
    }, (error) => (error instanceof TenantctlError ? error.message : undefined));
    expect(got.chosen?.candidate.backup).toBe('acme-2');
    expect(got.chosen?.value.method).toBe('logical');
    expect(got.passed).toEqual([{ backup: 'acme-3', reason: expect.stringMatching(/PostgreSQL 15 cluster .* PostgreSQL 16/) }]);
    expect(asked).toEqual(['acme-3']);
  });

  it('refuses a cluster of another major than the image the template runs, naming both; an unknown major is left to the staged check', () => {
    expect(majorMismatch('acme-1', 15, 'tenantctl/postgres:15', { image: 'tenantctl/postgres:15', major: 15 }, 'template crm\'s db service')).toBeUndefined();
    expect(majorMismatch('acme-1', 15, 'tenantctl/postgres:15', { image: 'postgres:16', major: 16 }, 'template crm\'s db service'))
      .toMatch(/^physical backup acme-1 is a PostgreSQL 15 cluster and template crm's db service runs image postgres:16, PostgreSQL 16: .*tenantctl\/postgres:15/);
    expect(majorMismatch('acme-1', 15, undefined, { image: 'postgres:16', why: 'No such image' }, 'x')).toBeUndefined();
    expect(majorMismatch('acme-1', undefined, undefined, { image: 'postgres:16', major: 16 }, 'x')).toBeUndefined();
  });
});
