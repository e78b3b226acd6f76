import type { Context } from '../context.js';
import { usageError } from '../common/errors.js';
import { configuredRepository, parseRepositoryLocation } from '../repository/location.js';
import { readPasswordFile, repositoryPassword } from '../repository/password.js';
import { openRepositoryWith, resticPaths, type Repository } from '../repository/restic.js';

// Which repository admin-backup and recover use: --repository, else backups.repository
// (TENANTCTL_BACKUP_REPOSITORY); its password from --password-file (mode 0600), else
// TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE, else (not for recover: its admin database is empty)
// the password sealed in the admin database (src/repository/password.ts).

export interface AccessInput {
  repository?: unknown;
  passwordFile?: unknown;
}

export async function repositoryFor(ctx: Context, input: AccessInput, { adminDbAllowed }: { adminDbAllowed: boolean }): Promise<Repository> {
  const given = text(input.repository);
  const location = given ? parseRepositoryLocation(given) : configuredRepository(ctx.config);
  if (!location) throw usageError('no backup repository: pass --repository <url> (a local path, sftp:user@host:/path, s3:...) or set backups.repository (TENANTCTL_BACKUP_REPOSITORY)');
  const file = text(input.passwordFile);
  let password: string;
  if (file) password = await readPasswordFile(file);
  else if (adminDbAllowed || ctx.env.TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE) password = await repositoryPassword({ env: ctx.env, stateDir: ctx.config.stateDir, adminDb: () => ctx.adminDb() }, location);
  else throw usageError('no password for the backup repository: pass --password-file <file> (mode 0600) or set TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE');
  const b = ctx.config.backups;
  return openRepositoryWith({ url: location.url, display: location.display, password, ...resticPaths(ctx.config.stateDir), ssh: b.sshKey || b.sshKnownHosts ? { key: b.sshKey, knownHosts: b.sshKnownHosts } : undefined });
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);
