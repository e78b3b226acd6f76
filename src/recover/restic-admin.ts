import { TenantctlError, usageError } from '../common/errors.js';
import { resticAdminQueryTimeoutMs } from '../common/timeouts.js';
import { run } from '../common/exec.js';

// The admin database's snapshots in the backup repository, asked of restic itself: snapshots tagged
// kind=admin, each holding one file, the admin database as SQL (tenantctl-admin.sql). restic gets the
// repository and its password file through its environment (RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE),
// never on its command line; the password file is the operator's (0600), read by restic alone.

export const adminSnapshotTag = 'kind=admin';
export const adminDumpName = 'tenantctl-admin.sql';

export interface ResticAccess {
  /** What restic is given as RESTIC_REPOSITORY. */
  repository: string;
  /** For messages: the repository with any credentials of its URL redacted. */
  display: string;
  /** A file only its owner may read, holding the repository's password. */
  passwordFile: string;
}

export interface AdminSnapshot {
  id: string;
  shortId: string;
  time: string;
  host: string;
  tags: string[];
}

export const resticEnv = (access: ResticAccess): Record<string, string> => ({ RESTIC_REPOSITORY: access.repository, RESTIC_PASSWORD_FILE: access.passwordFile });

/** restic's failure as an error of ours: a wrong password is a usage error, a missing repository not found. */
export function resticFailure(access: ResticAccess, what: string, exitCode: number, stderr: string): TenantctlError {
  const first = stderr.split('\n').find((l) => /fatal|error|wrong password|does not exist|unable/i.test(l)) ?? stderr.split('\n')[0] ?? '';
  if (/wrong password|no key found/i.test(stderr)) return usageError(`the backup repository ${access.display} does not open with the password in ${access.passwordFile}`);
  if (/does not exist|Is there a repository at/i.test(stderr)) return new TenantctlError('notFound', `no restic repository at ${access.display}: ${first.trim()}`);
  if (/repository is already locked/i.test(stderr)) return new TenantctlError('conflict', `the backup repository ${access.display} is locked by another restic: ${first.trim()}`);
  return new TenantctlError('docker', `${what} failed (exit ${exitCode}) on ${access.display}: ${first.trim() || 'no message'}`);
}

/** The admin snapshots in the repository, newest first. */
export async function adminSnapshots(access: ResticAccess, signal?: AbortSignal): Promise<AdminSnapshot[]> {
  const result = await run(['restic', 'snapshots', '--json', '--no-lock', '--tag', adminSnapshotTag], { env: resticEnv(access), timeoutMs: resticAdminQueryTimeoutMs, signal });
  if (result.cancelled) throw new TenantctlError('interrupted', 'restic snapshots was cancelled');
  if (result.exitCode !== 0) throw resticFailure(access, 'restic snapshots', result.exitCode, result.stderrTail);
  const list = JSON.parse(result.stdout || '[]') as Array<{ id: string; short_id: string; time: string; hostname: string; tags?: string[] }>;
  return list
    .map((s) => ({ id: s.id, shortId: s.short_id, time: s.time, host: s.hostname, tags: s.tags ?? [] }))
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
}

/** argv of `restic backup` reading the dump from stdin (the repository and password from the environment). */
export const resticBackupArgv = (host: string, tags: string[]): string[] =>
  ['restic', 'backup', '--json', '--quiet', '--stdin', '--stdin-filename', adminDumpName, '--host', host, '--tag', [adminSnapshotTag, ...tags].join(',')];

/** argv of `restic dump` writing the snapshot's dump to stdout. */
export const resticDumpArgv = (snapshot: string): string[] => ['restic', 'dump', '--no-lock', snapshot, `/${adminDumpName}`];

/** The snapshot id in `restic backup --json`'s summary line. */
export function snapshotIdOf(stdout: string): string {
  for (const line of stdout.split('\n').reverse()) {
    try {
      const message = JSON.parse(line) as { message_type?: string; snapshot_id?: string };
      if (message.message_type === 'summary' && message.snapshot_id) return message.snapshot_id;
    } catch { /* a progress line cut short: not the summary */ }
  }
  throw new TenantctlError('internal', 'restic backup printed no summary with a snapshot id');
}
