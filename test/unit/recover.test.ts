import { describe, expect, it } from 'vitest';
import { adminSnapshots, resticBackupArgs, resticDumpArgs } from '../../src/recover/restic-admin.js';
import { pgDumpArgv, psqlRestoreArgv, restorePrologue } from '../../src/recover/admin-dump.js';
import type { Repository } from '../../src/repository/restic.js';

// The pure parts of admin-backup and recover: what restic and the admin database's container are
// asked (argv arrays, never a password), and which admin snapshot is the newest.

const fakeRepo = (answer: unknown, seen: string[][] = []): Repository => ({
  location: { url: '/srv/repo', display: '/srv/repo', backend: 'local' },
  run: async () => ({ stdout: '', stderrTail: '' }),
  json: async <T>(args: readonly string[]) => {
    seen.push([...args]);
    return answer as T;
  },
});

describe('admin snapshots', () => {
  it('asks restic for kind=admin snapshots without a lock and lists them newest first', async () => {
    const seen: string[][] = [];
    const list = await adminSnapshots(fakeRepo([
      { id: 'a'.repeat(64), short_id: 'aaaaaaaa', time: '2026-12-05T10:00:00Z', hostname: 'web1', tags: ['kind=admin'] },
      { id: 'b'.repeat(64), short_id: 'bbbbbbbb', time: '2026-12-06T10:00:00Z', hostname: 'web1', tags: ['kind=admin', 'frontdoor=acme'] },
      { id: 'c'.repeat(64), short_id: 'cccccccc', time: '2026-12-04T10:00:00Z', hostname: 'web1' },
    ], seen));
    expect(list.map((s) => s.shortId)).toEqual(['bbbbbbbb', 'aaaaaaaa', 'cccccccc']);
    expect(list[0]!.tags).toContain('frontdoor=acme');
    expect(list[2]!.tags).toEqual([]);
    expect(seen).toEqual([['snapshots', '--no-lock', '--tag', 'kind=admin']]);
  });

  it('an empty repository (restic prints null) has none', async () => {
    expect(await adminSnapshots(fakeRepo(null))).toEqual([]);
  });
});

describe('what restic and the admin database container are asked', () => {
  it('backs up one named file from stdin, tagged kind=admin plus the front door, on the host', () => {
    expect(resticBackupArgs('web1', ['frontdoor=self-signed'])).toEqual(['backup', '--quiet', '--stdin', '--stdin-filename', 'tenantctl-admin.sql', '--host', 'web1', '--tag', 'kind=admin,frontdoor=self-signed']);
    expect(resticDumpArgs('abc12345')).toEqual(['dump', '--no-lock', 'abc12345', '/tenantctl-admin.sql']);
  });

  it('pg_dump and psql run in the container over its local socket, with no password and no TTY', () => {
    for (const argv of [pgDumpArgv('c1'), psqlRestoreArgv('c1')]) {
      expect(argv.slice(0, 2)).toEqual(['docker', 'exec']);
      expect(argv).not.toContain('-t');
      expect(argv).toContain('--no-password');
      expect(argv.join(' ')).not.toMatch(/password=|PGPASSWORD/i);
    }
    // psql stops at the first error; the transaction is the prologue's BEGIN and the trailer's COMMIT, not --single-transaction.
    expect(psqlRestoreArgv('c1')).toEqual(expect.arrayContaining(['--set', 'ON_ERROR_STOP=1']));
    expect(psqlRestoreArgv('c1')).not.toContain('--single-transaction');
    expect(restorePrologue.startsWith('BEGIN;')).toBe(true);
    expect(restorePrologue).not.toMatch(/COMMIT/);
  });
});
