import { describe, expect, it } from 'vitest';
import { consideredBackups, type BackupCandidate } from '../../src/recover/backup-candidates.js';
import { reserveRoom, restoreNeedBytes } from '../../src/recover/fit.js';

// recover's account of each tenant (src/recover/backup-candidates.ts: every backup it considered)
// and its fit check's room on a host (src/recover/fit.ts), pure parts.

const candidate = (backup: string, time: string, over: Partial<BackupCandidate> = {}): BackupCandidate => ({ backup, origin: 'repository', time, snapshots: { 'manifest.json': 'm' }, manifestSha256: null, ...over });

describe('the backups recover considered for a tenant', () => {
  const candidates = [candidate('acme-3', '2026-12-06T12:00:00Z'), candidate('acme-2', '2026-12-06T11:00:00Z', { origin: 'admin-record' }), candidate('acme-1', '2026-12-06T10:00:00Z')];
  const skipped = [{ backup: 'acme-4', reason: 'no manifest.json in the repository: a run that never finished' }];

  it('lists each: the newest refused (why), the one chosen (why), the older not read, and those passed over before reading', () => {
    const got = consideredBackups(candidates, skipped, new Map<string, 'chosen' | { passedOver: string }>([['acme-3', { passedOver: 'db.dump read back with another SHA-256' }], ['acme-2', 'chosen']]));
    expect(got.map((c) => [c.backup, c.decision])).toEqual([['acme-3', 'passed-over'], ['acme-2', 'chosen'], ['acme-1', 'not-read'], ['acme-4', 'passed-over']]);
    expect(got[0]!.reason).toBe('db.dump read back with another SHA-256');
    expect(got[1]).toMatchObject({ origin: 'admin-record', time: '2026-12-06T11:00:00Z', reason: expect.stringMatching(/newest that verifies/) });
    expect(got[2]!.reason).toMatch(/older than acme-2, which was chosen/);
  });

  it('none chosen: every candidate read is passed over with its reason', () => {
    const got = consideredBackups(candidates.slice(0, 1), [], new Map([['acme-3', { passedOver: 'unreadable' }]]));
    expect(got).toEqual([{ backup: 'acme-3', origin: 'repository', time: '2026-12-06T12:00:00Z', decision: 'passed-over', reason: 'unreadable' }]);
  });
});

describe('room for a restore on a host', () => {
  const MiB = 1024 * 1024;

  it('needs twice the backup and 256 MiB', () => {
    expect(restoreNeedBytes(0)).toBe(256 * MiB);
    expect(restoreNeedBytes(100 * MiB)).toBe(456 * MiB);
  });

  it('shares the measured free space among the run\'s tenants: the one that no longer fits is told why, nothing reserved for it', () => {
    const room = { freeBytes: 1000 * MiB, reservedBytes: 0 };
    expect(reserveRoom(room, 456 * MiB, 'web1')).toBeUndefined();
    expect(room.reservedBytes).toBe(456 * MiB);
    const why = reserveRoom(room, 600 * MiB, 'web1');
    expect(why).toMatch(/web1 has 544 MiB free for restores \(1000 MiB free, 456 MiB taken by tenants placed before it in this run\).*needs 600 MiB/);
    expect(room.reservedBytes).toBe(456 * MiB);
    expect(reserveRoom(room, 500 * MiB, 'web1')).toBeUndefined();
  });
});
