import { pruneState, type PruneState } from './prune-interval.js';
import type { Context } from '../context.js';
import { TenantctlError, usageError } from '../common/errors.js';
import { resticCheckTimeoutMs, resticQueryTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { recordAudit } from '../audit/write.js';
import { openSecretBox } from '../secrets/master-key.js';
import { configuredRepository, type RepositoryLocation } from './location.js';
import { generatePassword, passwordFileEnv, passwordSettingKey, readPasswordFile, repositoryKey, storePassword } from './password.js';
import { openRepository, openRepositoryWith, resticPaths, type Repository } from './restic.js';

// `tenantctl repository init|status|check`: the backup repository itself.

export interface RepositoryInitResult {
  repository: string;
  key: string;
  /** created: restic init ran; adopted: an existing repository the given password opens; unchanged: it was set up already. */
  outcome: 'created' | 'adopted' | 'unchanged';
  /** Where its password is: sealed in the admin database. */
  passwordSealedIn: string;
}

function requireLocation(ctx: Context): RepositoryLocation {
  const location = configuredRepository(ctx.config);
  if (!location) throw usageError('no backup repository is configured: set backups.repository (TENANTCTL_BACKUP_REPOSITORY) to a local path, sftp:user@host:/path or a restic URL');
  return location;
}

function handleFor(ctx: Context, location: RepositoryLocation, password: string): Repository {
  const b = ctx.config.backups;
  return openRepositoryWith({ url: location.url, display: location.display, password, ...resticPaths(ctx.config.stateDir), ssh: b.sshKey || b.sshKnownHosts ? { key: b.sshKey, knownHosts: b.sshKnownHosts } : undefined });
}

/** Whether the repository exists and `password` opens it: true, false (none there), or throws (wrong password: exit 2). */
async function opens(ctx: Context, repo: Repository): Promise<boolean> {
  try {
    await repo.run(['cat', 'config', '--no-lock'], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
    return true;
  } catch (error) {
    if (error instanceof TenantctlError && error.kind === 'notFound') return false;
    throw error;
  }
}

/**
 * Creates the repository (restic init) with a new random password, or one given from a 0600 file
 * or stdin, sealed into the admin database first (the intent: a run killed before restic init is
 * finished by running init again with that password). An existing repository that the given
 * password opens is adopted (its password sealed); one already set up is left as it is.
 */
export async function repositoryInit(ctx: Context, input: { passwordFile?: string; password?: string }): Promise<RepositoryInitResult> {
  const location = requireLocation(ctx);
  if (input.passwordFile && input.password !== undefined) throw usageError('give --password-file or --password-stdin, not both');
  if (ctx.env[passwordFileEnv]) throw usageError(`${passwordFileEnv} is set: repository init seals the password in the admin database; unset it (or give it with --password-file)`);
  const given = input.passwordFile ? await readPasswordFile(input.passwordFile, '--password-file') : input.password;
  if (given !== undefined && given.trim() === '') throw usageError('the password given is empty');
  const db = await ctx.adminDb();
  const box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: true });
  const key = repositoryKey(location);
  const base = { repository: location.display, key, passwordSealedIn: `admin_settings ${passwordSettingKey(location)}` };
  const { rows } = await db.pool.query('SELECT value FROM admin_settings WHERE key = $1', [passwordSettingKey(location)]).catch(db.unreachable);
  const stored = rows[0] ? box.open(rows[0].value as string, `backup-repository-password:${key}`) : undefined;

  if (stored !== undefined) {
    if (given !== undefined && given !== stored) throw new TenantctlError('conflict', `a password for ${location.display} is sealed in the admin database already and differs from the one given; the repository keeps it`);
    const repo = handleFor(ctx, location, stored);
    if (await opens(ctx, repo)) return { ...base, outcome: 'unchanged' };
    ctx.reporter.step(`creating the restic repository ${location.display} (its password was sealed by an earlier run)`);
    await repo.run(['init'], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal, onStderrLine: ctx.reporter.detail });
    await audit(ctx, location, 'created');
    return { ...base, outcome: 'created' };
  }

  const password = given ?? generatePassword();
  const repo = handleFor(ctx, location, password);
  ctx.reporter.step(`looking for a repository at ${location.display}`);
  const exists = await opens(ctx, repo); // a wrong password for an existing repository fails here (exit 2), nothing stored
  await storePassword(db, box, location, password);
  await ctx.pause('repository:sealed');
  if (exists) {
    await audit(ctx, location, 'adopted');
    return { ...base, outcome: 'adopted' };
  }
  ctx.reporter.step(`creating the restic repository ${location.display}`);
  try {
    await repo.run(['init'], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal, onStderrLine: ctx.reporter.detail });
  } catch (error) {
    // Nothing was created: the sealed password goes with it, so a later init may choose another.
    await db.pool.query('DELETE FROM admin_settings WHERE key = $1', [passwordSettingKey(location)]).catch(ignoreFailure('the init error is the cause; a sealed password left is used by the next init, which says so'));
    throw error;
  }
  await audit(ctx, location, 'created');
  return { ...base, outcome: 'created' };
}

async function audit(ctx: Context, location: RepositoryLocation, outcome: string): Promise<void> {
  const db = await ctx.adminDb();
  await db.withTransaction((client) => recordAudit(db, client, null, 'repository.initialized', null, { repository: location.display, key: repositoryKey(location), outcome }));
}

export interface RepositoryStatusResult {
  repository: string;
  key: string;
  backend: string;
  passwordFrom: 'admin-db' | 'file';
  snapshots: number;
  /** Snapshots tenantctl wrote (tagged tenant=...), and of how many tenants. */
  tenantSnapshots: number;
  tenants: number;
  /** Bytes the repository holds (restic stats --mode raw-data: after deduplication and compression). */
  storedBytes: number;
  /** Bytes of what its snapshots restore to (restic stats --mode restore-size). */
  restoreBytes: number;
  latest: string | null;
  /** restic prune's bookkeeping (prune-interval.ts): when it last ran, whether one is owed and when it is due. */
  prune: PruneState | null;
}

interface Snapshot { id: string; short_id: string; time: string; tags?: string[]; paths: string[]; hostname: string }

export async function repositoryStatus(ctx: Context): Promise<RepositoryStatusResult> {
  const location = requireLocation(ctx);
  const repo = await openRepository(ctx);
  const snapshots = await repo.json<Snapshot[]>(['snapshots', '--no-lock'], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
  const raw = await repo.json<{ total_size: number }>(['stats', '--no-lock', '--mode', 'raw-data'], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
  const restore = await repo.json<{ total_size: number }>(['stats', '--no-lock', '--mode', 'restore-size'], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
  const ours = snapshots.filter((s) => s.tags?.some((t) => t.startsWith('tenant=')));
  const tenants = new Set(ours.map((s) => s.tags!.find((t) => t.startsWith('tenant='))));
  const latest = snapshots.map((s) => s.time).sort().pop() ?? null;
  return {
    repository: location.display, key: repositoryKey(location), backend: location.backend,
    passwordFrom: ctx.env[passwordFileEnv] ? 'file' : 'admin-db',
    snapshots: snapshots.length, tenantSnapshots: ours.length, tenants: tenants.size,
    storedBytes: raw.total_size, restoreBytes: restore.total_size, latest,
    // null when the admin database cannot be read (a password from a file on a machine without one).
    prune: (await ctx.adminDb().then((db) => pruneState(ctx, db, location)).catch(ignoreFailure('the status shows the repository without the prune bookkeeping'))) ?? null,
  };
}

export interface RepositoryCheckResult {
  repository: string;
  ok: true;
  readData: string | null;
  durationMs: number;
}

/** restic check (its structure; --read-data-subset reads that much of the data too). A damaged repository fails with exit 13. */
export async function repositoryCheck(ctx: Context, input: { readDataSubset?: string }): Promise<RepositoryCheckResult> {
  const location = requireLocation(ctx);
  if (input.readDataSubset !== undefined && !/^(\d{1,3}(\.\d+)?%|\d+\/\d+)$/.test(input.readDataSubset)) throw usageError(`--read-data-subset ${JSON.stringify(input.readDataSubset)}: expected a percentage (5%) or n/t (1/10)`);
  const repo = await openRepository(ctx);
  const started = ctx.clock.now();
  ctx.reporter.step(`restic check of ${location.display}`);
  await repo.run(['check', ...(input.readDataSubset ? ['--read-data-subset', input.readDataSubset] : [])], { timeoutMs: resticCheckTimeoutMs, signal: ctx.signal, onStderrLine: ctx.reporter.detail });
  return { repository: location.display, ok: true, readData: input.readDataSubset ?? null, durationMs: ctx.clock.now() - started };
}
