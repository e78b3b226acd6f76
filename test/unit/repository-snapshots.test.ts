// Which snapshots of a shared restic repository tenantctl may forget: pure functions over snapshot
// lists and admin_backups rows (src/backups/in-repository.ts, src/backups/retention.ts).
import { describe, expect, it } from 'vitest';
import { failedBackupSnapshots, type Snapshot } from '../../src/backups/in-repository.js';

const snap = (id: string, time: string, tags: string[], path = '/tenantctl/acme/manifest.json'): Snapshot =>
  ({ id, short_id: id.slice(0, 8), time, paths: [path], hostname: 'h1', tags });
const row = (id: string, state: 'running' | 'succeeded' | 'failed' | 'pruned', host = 'h1', tenant = 'acme') => ({ id, state, host, tenant });

describe('forgetting what failed backups left', () => {
  const snapshots = [
    snap('wal1', '2026-12-01T01:00:00Z', ['tenant=acme', 'kind=wal']),
    snap('base1', '2026-12-01T01:00:00Z', ['tenant=acme', 'kind=pitr-base']),
    snap('admin1', '2026-12-01T01:00:00Z', ['tenant=acme', 'kind=admin', 'backup=b-failed']),
    snap('untagged', '2026-12-01T01:00:00Z', ['tenant=acme', 'tenantctl']),
    snap('other-machine', '2026-12-01T01:00:00Z', ['tenant=acme', 'backup=b-unknown', 'tenantctl']),
    snap('good', '2026-12-01T01:00:00Z', ['tenant=acme', 'backup=b-good', 'tenantctl']),
    snap('failed1', '2026-12-01T01:00:00Z', ['tenant=acme', 'backup=b-failed', 'tenantctl']),
    snap('failed2', '2026-12-01T01:00:00Z', ['tenant=acme', 'backup=b-failed', 'tenantctl'], '/tenantctl/acme/db.dump'),
    snap('failed-elsewhere', '2026-12-01T01:00:00Z', ['tenant=acme', 'backup=b-failed-h2', 'tenantctl']),
    snap('running', '2026-12-01T01:00:00Z', ['tenant=acme', 'backup=b-running', 'tenantctl']),
    snap('pruned', '2026-12-01T01:00:00Z', ['tenant=acme', 'backup=b-pruned', 'tenantctl']),
    snap('this-run', '2026-12-01T01:00:00Z', ['tenant=acme', 'backup=b-now', 'tenantctl']),
  ];
  const rows = [row('b-good', 'succeeded'), row('b-failed', 'failed'), row('b-failed-h2', 'failed', 'h2'), row('b-running', 'running'), row('b-pruned', 'pruned'), row('b-now', 'failed')];

  it('forgets only the snapshots of failed rows of this host and tenant, never kind=, untagged or unknown ones', () => {
    expect(failedBackupSnapshots(snapshots, rows, 'acme', 'h1', 'b-now').map((s) => s.id)).toEqual(['failed1', 'failed2']);
  });

  it('forgets nothing when the admin database knows no failed backup (a recovered, older admin database)', () => {
    expect(failedBackupSnapshots(snapshots, [], 'acme', 'h1')).toEqual([]);
    expect(failedBackupSnapshots(snapshots, [row('b-failed', 'failed', 'h1', 'other')], 'acme', 'h1')).toEqual([]);
  });
});
