import path from 'node:path';
import { usageError } from '../common/errors.js';

// Where the backup repository is (config backups.repository, env TENANTCTL_BACKUP_REPOSITORY):
// a local path, `sftp:user@host:/path`, or any location restic itself understands
// (`s3:https://host/bucket`, `rest:https://user:pass@host/`, `b2:bucket:path`, ...). tenantctl hands
// the URL to restic as it is (RESTIC_REPOSITORY, never argv) and shows only `display`, which has the
// credentials a URL may carry (`user:password@`) taken out.

export interface RepositoryLocation {
  /** What restic is given (RESTIC_REPOSITORY). */
  url: string;
  /** For messages, output and audit rows: credentials redacted. */
  display: string;
  /** restic's backend name: local, sftp, s3, rest, b2, azure, gs, swift, rclone. */
  backend: string;
}

const backends = new Set(['local', 'sftp', 's3', 'rest', 'b2', 'azure', 'gs', 'swift', 'rclone']);

/** Parses a repository location; a path without a scheme is a local path, made absolute against `cwd`. */
export function parseRepositoryLocation(raw: string, cwd = process.cwd()): RepositoryLocation {
  const text = raw.trim();
  if (text === '') throw usageError('backups.repository is empty: give a local path, sftp:user@host:/path, or a restic repository URL');
  if (/[\n\r\0]/.test(text)) throw usageError('backups.repository must be one line');
  const scheme = /^([a-z0-9]+):/.exec(text)?.[1];
  if (scheme === undefined || !backends.has(scheme)) {
    // No backend prefix: a local path (restic would read `foo:bar` as a path too, but say what we did).
    if (scheme !== undefined && !text.startsWith('/') && !text.startsWith('.')) {
      throw usageError(`backups.repository ${JSON.stringify(redact(text))}: unknown restic backend "${scheme}:" (one of ${[...backends].join(', ')}, or a local path)`);
    }
    const absolute = path.resolve(cwd, text);
    return { url: absolute, display: absolute, backend: 'local' };
  }
  if (scheme === 'local') {
    const absolute = path.resolve(cwd, text.slice('local:'.length));
    return { url: `local:${absolute}`, display: `local:${absolute}`, backend: 'local' };
  }
  if (scheme === 'sftp' && !/^sftp:(\/\/[^/]+\/.+|[^:/]+:.+)$/.test(text)) {
    throw usageError(`backups.repository ${JSON.stringify(redact(text))}: an sftp repository is sftp:user@host:/path or sftp://user@host:port//path`);
  }
  return { url: text, display: redact(text), backend: scheme };
}

/** Credentials in a URL's user-info (`user:secret@`) replaced by `***`; the user name stays. */
export function redact(text: string): string {
  return text.replace(/(\/\/[^/:@\s]*):[^@/\s]*@/g, '$1:***@');
}

/** The configured repository, or undefined when backups stay in the folder store (backupsDir). */
export function configuredRepository(config: { backups: { repository?: string } }, cwd?: string): RepositoryLocation | undefined {
  const raw = config.backups.repository;
  return raw === undefined || raw.trim() === '' ? undefined : parseRepositoryLocation(raw, cwd);
}
