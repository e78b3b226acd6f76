import path from 'node:path';
import { chmod, chown, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { parseEnvFile } from '../common/env-file.js';
import { ensurePrivateDir } from '../common/private-files.js';
import { missingMeans } from '../common/ignore-failure.js';
import { messageOf, TenantctlError } from '../common/errors.js';
import { anySecretPattern, type NamedSecrets, type TenantSecrets } from './generate.js';
import type { SecretCopy } from '../templates/secret-copies.js';

// A tenant's secrets on the host: customers/<id>/secrets/<NAME>, one file per secret (DB_PASSWORD,
// APP_DB_PASSWORD, REDIS_PASSWORD, JWT_SECRET), holding the value and nothing else, mode 0600 in a
// 0700 folder. The compose template hands them to the containers as compose secrets (read-only
// bind mounts), never as environment variables. Tenants written before this layout kept them in
// customers/<id>/.env; they are still read from there.

/** customers/<id>/secrets/, beside the tenant's .env. */
export function secretsDirOf(tenantDir: string): string {
  return path.join(tenantDir, 'secrets');
}

/**
 * Writes one private file per secret, then each service user's own copy of those it reads
 * (`copies`, from the rendered compose file: templates/secret-copies.ts): secrets/user-<uid>-<gid>/<NAME>,
 * owned by that uid, mode 0400, so the service can start as that user and read it while no other
 * uid can. The one function every writer of a tenant's secrets calls (provision and everything
 * that provisions, upgrade, rotate-secrets), so the copies never lag the operator's files.
 * A file that exists is rewritten in place (same inode): the containers mount each file on its own
 * (compose secrets are single-file bind mounts), and a bind mount follows the inode, so a running
 * container sees the new value at /run/secrets/<NAME> at once (what a rotation needs, e.g. Redis's
 * health check after CONFIG SET requirepass); a file replaced by a rename would stay hidden from it
 * until the container is recreated. A crash mid-write leaves a short file, which
 * readNamedSecretFiles refuses: the sealed copy is used instead (and the copies are written again
 * from it on the next render).
 */
export async function writeSecretFiles(dir: string, secrets: TenantSecrets | NamedSecrets, copies: readonly SecretCopy[] = [], { prune = false }: { prune?: boolean } = {}): Promise<void> {
  await ensurePrivateDir(dir);
  await chmod(dir, 0o700);
  const values: Readonly<Record<string, string>> = secrets;
  for (const [name, value] of Object.entries(values)) {
    if (!anySecretPattern.test(value) || !/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`refusing to write ${name}: not a tenantctl secret`);
    const file = path.join(dir, name);
    // An operator may have made it 0400: writable again for its owner, then private whatever it was.
    await chmod(file, 0o600).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await writeFile(file, value, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  for (const copy of copies) {
    const value = values[copy.name];
    if (value === undefined) continue; // not among these secrets (a rotation writes only the rotated ones)
    await writeSecretCopy(path.join(dir, copy.dir), copy, value);
  }
  if (prune) await pruneSecretCopies(dir, copies);
}

const copyDirPattern = /^user-\d+-\d+$/;

/** The per-user copy folders (user-<uid>-<gid>/) in the secrets folder now. */
export async function secretCopyDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(missingMeans([]));
  return entries.filter((e) => e.isDirectory() && copyDirPattern.test(e.name)).map((e) => e.name).sort();
}

/** A rolled-back upgrade's copy folders: those there now that were not before it (`before`), removed. */
export async function removeCopyDirsSince(dir: string, before: readonly string[]): Promise<string[]> {
  const created = (await secretCopyDirs(dir)).filter((name) => !before.includes(name));
  for (const name of created) await rm(path.join(dir, name), { recursive: true, force: true });
  return created;
}

/**
 * Removes the per-user copies the compose file no longer mounts (`copies`: all it mounts): a
 * user-<uid>-<gid>/ folder no service runs as any more (a template that changed a uid, or dropped
 * its user), and in a folder still used, a secret its service no longer reads. A copy is a secret
 * too: none is kept on disk past its use. Only called with the copies of the file compose runs
 * from now on (never before an upgrade is proven: a rollback goes back to the old file and its copies).
 */
export async function pruneSecretCopies(dir: string, copies: readonly SecretCopy[]): Promise<string[]> {
  const wanted = new Map<string, Set<string>>();
  for (const copy of copies) wanted.set(copy.dir, (wanted.get(copy.dir) ?? new Set()).add(copy.name));
  const removed: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(missingMeans([]));
  for (const entry of entries) {
    if (!entry.isDirectory() || !copyDirPattern.test(entry.name)) continue;
    const names = wanted.get(entry.name);
    if (!names) {
      await rm(path.join(dir, entry.name), { recursive: true, force: true });
      removed.push(entry.name);
      continue;
    }
    for (const file of await readdir(path.join(dir, entry.name))) {
      if (names.has(file)) continue;
      await rm(path.join(dir, entry.name, file), { recursive: true, force: true });
      removed.push(`${entry.name}/${file}`);
    }
  }
  return removed;
}

/**
 * One copy: its folder (0700, the operator's: the engine, not the container, opens the path) and
 * the file, rewritten in place, then given to the container's uid, mode 0400. As root (tenantctl
 * runs as root on a host whose containers need copies) the 0400 file is writable again; another
 * operator cannot give a file away, which is said, not worked around.
 */
async function writeSecretCopy(copyDir: string, copy: SecretCopy, value: string): Promise<void> {
  await mkdir(copyDir, { recursive: true, mode: 0o700 });
  await chmod(copyDir, 0o700);
  const file = path.join(copyDir, copy.name);
  try {
    await writeFile(file, value, { mode: 0o400 });
    await chown(file, copy.uid, copy.gid);
    await chmod(file, 0o400);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EACCES') {
      throw new TenantctlError('usage', `cannot give ${file} to uid ${copy.uid} (the service's user): only root can (tenantctl runs as uid ${process.getuid?.() ?? '?'}); run tenantctl as root, or drop the service's numeric user: from the template so it starts as root and copies its secrets itself`, { cause: error });
    }
    throw error;
  }
}

/** A template's secrets (`names`) from customers/<id>/secrets/, if every one is there and well-formed; one there but unreadable is an error (exit 2), never taken for missing. */
export async function readNamedSecretFiles(dir: string, names: readonly string[]): Promise<NamedSecrets | undefined> {
  const values: NamedSecrets = {};
  for (const name of names) {
    const value = (await readFile(path.join(dir, name), 'utf8').catch(missingMeans(undefined)).catch((error: unknown) => {
      throw unreadableSecret(path.join(dir, name), error);
    }))?.replace(/\r?\n$/, '');
    if (value === undefined || !anySecretPattern.test(value)) return undefined;
    values[name] = value;
  }
  return values;
}

/** A template's secrets (`names`) from a tenant's .env (tenants written before secrets/), if every one is there. */
export async function readNamedEnvFileSecrets(envFile: string, names: readonly string[]): Promise<NamedSecrets | undefined> {
  let text: string;
  try {
    text = await readFile(envFile, 'utf8');
  } catch {
    return undefined;
  }
  const values = parseEnvFile(text);
  if (!names.every((name) => anySecretPattern.test(values[name] ?? ''))) return undefined;
  return Object.fromEntries(names.map((name) => [name, values[name]!]));
}

/** Every secret in customers/<id>/secrets/, whatever the template named them (provision --show-secrets). */
export async function readAllSecretFiles(dir: string): Promise<NamedSecrets | undefined> {
  const names = await readdir(dir).catch(missingMeans(undefined)).catch((error: unknown) => {
    throw unreadableSecret(dir, error);
  });
  return names && readNamedSecretFiles(dir, names.filter((name) => /^[A-Z][A-Z0-9_]*$/.test(name)).sort());
}

/**
 * provision --show-secrets, after the tenant is active: its secrets, or (folder or a file unreadable)
 * none and a warning that says why. The provision succeeded: showing its secrets is not worth
 * failing it over.
 */
export async function secretsToShow(dir: string): Promise<{ secrets?: NamedSecrets; secretsWarning?: string }> {
  try {
    const secrets = await readAllSecretFiles(dir);
    return secrets ? { secrets } : { secretsWarning: `the tenant is active, but its secrets are not shown: ${dir} is missing or holds no well-formed secret` };
  } catch (error) {
    return { secretsWarning: `the tenant is active, but its secrets are not shown: ${messageOf(error)}` };
  }
}

/** A secret file (or the folder) that is there but cannot be read: not "missing", and not replaced. */
function unreadableSecret(file: string, cause: unknown): TenantctlError {
  return new TenantctlError('usage', `cannot read ${file} (fix its permissions: tenantctl does not replace it): ${messageOf(cause)}`, { cause });
}


