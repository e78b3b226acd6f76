// Which snapshots of a shared restic repository tenantctl may forget: pure functions over snapshot
// lists and admin_backups rows (src/backups/in-repository.ts, src/backups/retention.ts).
import { describe, expect, it } from 'vitest';
import { failedBackupSnapshots, readBack, type Snapshot } from '../../src/backups/in-repository.js';
import { TenantctlError } from '../../src/common/errors.js';
import type { Context } from '../../src/context.js';
import type { Repository } from '../../src/repository/restic.js';
import { checkText } from '../../src/backups/repository-backup.js';
import { removedByPolicy } from '../../src/backups/retention.js';

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

describe('retention over succeeded backups', () => {
  const b = (id: string, time: string) => ({ id, time });

  it('keeps the newest backup of each day (--keep-daily), removing the older ones of the same day', () => {
    const list = [b('d1-early', '2026-12-01T01:00:00Z'), b('d1-late', '2026-12-01T23:00:00Z'), b('d2', '2026-12-02T03:00:00Z'), b('d3', '2026-12-03T03:00:00Z')];
    expect(removedByPolicy(list, { daily: 2 }).sort()).toEqual(['d1-early', 'd1-late']);
    expect(removedByPolicy(list, { daily: 3 })).toEqual(['d1-early']);
  });

  it('combines last, weekly and monthly like restic (a backup kept by any rule stays)', () => {
    const list = [b('nov', '2026-11-15T00:00:00Z'), b('w48', '2026-11-24T00:00:00Z'), b('w49a', '2026-11-30T00:00:00Z'), b('w49b', '2026-12-02T00:00:00Z')];
    expect(removedByPolicy(list, { weekly: 2 }).sort()).toEqual(['nov', 'w49a']);
    expect(removedByPolicy(list, { monthly: 2 }).sort()).toEqual(['nov', 'w48']);
    expect(removedByPolicy(list, { last: 3, monthly: 1 }).sort()).toEqual(['nov']);
  });

  it('never removes the newest succeeded backup, and never counts a failed one (only succeeded ones are given)', () => {
    // restic over the snapshots: GOOD then a killed run's ORPHAN manifest the same day, --keep-daily 1 removed GOOD.
    expect(removedByPolicy([b('good', '2026-12-01T01:00:00Z')], { daily: 1 })).toEqual([]);
    expect(removedByPolicy([b('old', '2026-11-01T01:00:00Z'), b('new', '2026-12-01T01:00:00Z')], { monthly: 1 })).toEqual(['old']);
  });
});

describe('reading a snapshot back', () => {
  it('rejects with restic\'s error, leaving no unhandled rejection, when restic fails while the reader ends well (Ctrl-C during a verification)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      const cancelled = new TenantctlError('interrupted', 'restic dump was cancelled');
      const repo = { location: { url: '/r', display: '/r', backend: 'local' }, run: () => Promise.reject(cancelled), json: () => Promise.reject(cancelled) } as unknown as Repository;
      const ctx = { signal: new AbortController().signal, reporter: { detail: () => {} } } as unknown as Context;
      await expect(readBack(ctx, repo, 'abc', 'acme', 'db.dump', async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        return { exitCode: 0 };
      })).rejects.toBe(cancelled);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('checking a small file read back', () => {
  const repoServing = (served: string) => ({
    location: { url: '/r', display: '/r', backend: 'local' },
    run: async (_args: readonly string[], options: { stdout?: NodeJS.WritableStream }) => {
      await new Promise<void>((resolve) => options.stdout!.write(served, () => resolve()));
      return { stdout: '', stderrTail: '' };
    },
    json: async () => ({}),
  }) as unknown as Repository;
  const ctx = { signal: new AbortController().signal, reporter: { detail: () => {} } } as unknown as Context;
  const location = { url: '/r', display: '/r', backend: 'local' };

  it('passes when the repository gives back what was written, refuses anything else (exit 13)', async () => {
    await expect(checkText(ctx, repoServing('{"a":1}\n'), 'abc', 'acme', 'manifest.json', '{"a":1}\n', location)).resolves.toBeUndefined();
    await expect(checkText(ctx, repoServing('{"a":2}\n'), 'abc', 'acme', 'manifest.json', '{"a":1}\n', location)).rejects.toMatchObject({ kind: 'repository', message: expect.stringMatching(/manifest.json read back from \/r is not the one written/) });
  });
});
