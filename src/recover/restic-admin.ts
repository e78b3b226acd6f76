import type { Repository } from '../repository/restic.js';
import { resticQueryTimeoutMs } from '../common/timeouts.js';

// The admin database's snapshots in the backup repository: restic snapshots tagged kind=admin, each
// holding one file, the admin database as SQL (tenantctl-admin.sql). Asked of restic itself, so an
// operator reads the same with `restic snapshots --tag kind=admin` and `restic dump`.

export const adminSnapshotTag = 'kind=admin';
export const adminDumpName = 'tenantctl-admin.sql';

export interface AdminSnapshot {
  id: string;
  shortId: string;
  time: string;
  host: string;
  tags: string[];
}

/** The admin snapshots in the repository, newest first. */
export async function adminSnapshots(repo: Repository, signal?: AbortSignal): Promise<AdminSnapshot[]> {
  const list = await repo.json<Array<{ id: string; short_id: string; time: string; hostname: string; tags?: string[] }> | null>(
    ['snapshots', '--no-lock', '--tag', adminSnapshotTag], { timeoutMs: resticQueryTimeoutMs, signal },
  );
  return (list ?? [])
    .map((s) => ({ id: s.id, shortId: s.short_id, time: s.time, host: s.hostname, tags: s.tags ?? [] }))
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
}

/** `restic backup` reading the dump from stdin. */
export const resticBackupArgs = (host: string, tags: string[]): string[] =>
  ['backup', '--quiet', '--stdin', '--stdin-filename', adminDumpName, '--host', host, '--tag', [adminSnapshotTag, ...tags].join(',')];

/** `restic dump` writing the snapshot's dump to stdout. */
export const resticDumpArgs = (snapshot: string): string[] => ['dump', '--no-lock', snapshot, `/${adminDumpName}`];
