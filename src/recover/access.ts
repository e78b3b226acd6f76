import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import type { ResticAccess } from './restic-admin.js';

// Which repository admin-backup and recover use, and the file holding its password: --repository
// (else TENANTCTL_BACKUP_REPOSITORY), --password-file (else TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE).
// A password file others may read is refused: it opens every backup.

export interface AccessInput {
  repository?: unknown;
  passwordFile?: unknown;
}

export const repositoryEnv = 'TENANTCTL_BACKUP_REPOSITORY';
export const passwordFileEnv = 'TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE';

export async function resticAccess(ctx: Pick<Context, 'env'>, input: AccessInput): Promise<ResticAccess> {
  const repository = text(input.repository) ?? text(ctx.env[repositoryEnv]);
  if (!repository) throw usageError(`no backup repository: pass --repository <url> (a local path, sftp:user@host:/path, s3:...) or set ${repositoryEnv}`);
  if (/[\n\r\0]/.test(repository)) throw usageError('--repository must be one line');
  const file = text(input.passwordFile) ?? text(ctx.env[passwordFileEnv]);
  if (!file) throw usageError(`no password for the backup repository: pass --password-file <file> (mode 0600) or set ${passwordFileEnv}`);
  const absolute = path.resolve(file);
  let info;
  try {
    info = await stat(absolute);
  } catch (error) {
    throw usageError(`the repository password file ${absolute} cannot be read: ${messageOf(error)}`);
  }
  if (!info.isFile()) throw usageError(`the repository password file ${absolute} is not a file`);
  if ((info.mode & 0o077) !== 0) throw new TenantctlError('usage', `the repository password file ${absolute} may be read by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 ${absolute}`);
  const local = !/^[a-z0-9]+:/.test(repository) || repository.startsWith('local:');
  const url = local ? path.resolve(repository.replace(/^local:/, '')) : repository;
  return { repository: url, display: url.replace(/(\/\/[^/:@\s]*):[^@/\s]*@/g, '$1:***@'), passwordFile: absolute };
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);
