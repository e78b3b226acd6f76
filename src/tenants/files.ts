import path from 'node:path';
import { copyFile, mkdir, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { ensurePrivateDir, writePrivateFile } from '../common/private-files.js';
import { formatEnvFile } from '../common/env-file.js';
import type { NamedSecrets, TenantSecrets } from '../secrets/generate.js';
import { secretsDirOf, writeSecretFiles } from '../secrets/env-file.js';
import { secretCopiesOf } from '../templates/secret-copies.js';

export interface TenantPaths {
  dir: string;
  composeFile: string;
  envFile: string;
  manifestFile: string;
  initdbDir: string;
  /** One file per secret (DB_PASSWORD, ...), handed to the containers as compose secrets. */
  secretsDir: string;
}

export function tenantPaths(customersDir: string, id: string): TenantPaths {
  const dir = path.join(customersDir, id);
  return {
    dir,
    composeFile: path.join(dir, 'docker-compose.yml'),
    envFile: path.join(dir, '.env'),
    manifestFile: path.join(dir, 'CUSTOMER_MANIFEST.md'),
    initdbDir: path.join(dir, 'initdb'),
    secretsDir: secretsDirOf(dir),
  };
}

/**
 * Writes everything compose needs for one tenant. The folder is 0700; the secrets are files in
 * secrets/ (0700, each file 0600), which the template mounts as compose secrets; .env (0600) holds no
 * secret. Each service user's own copies of its secrets (what the compose file mounts) are written
 * with the secrets (secrets/user-<uid>-<gid>/, templates/secret-copies.ts).
 * With `project`, the .env also names the compose project (COMPOSE_PROJECT_NAME), so compose run by
 * hand from customers/<id>/ (which reads that .env itself) finds the stack tenantctl made, instead of
 * a project named after the folder.
 */
export async function writeTenantFiles(
  paths: TenantPaths,
  files: { compose: string; manifest: string; secrets: TenantSecrets | NamedSecrets; project?: string; /** The template's initdb/ (null: the template has none). */ initdbDir: string | null },
): Promise<void> {
  await ensurePrivateDir(paths.dir);
  await chmod(paths.dir, 0o700);
  const project: Record<string, string> = files.project === undefined ? {} : { COMPOSE_PROJECT_NAME: files.project };
  await writeSecretFiles(paths.secretsDir, files.secrets, secretCopiesOf(files.compose), { prune: true }); // written with the file that mounts them
  await writePrivateFile(paths.envFile, formatEnvFile({ ...project }, 'tenantctl: this tenant\'s compose project; its secrets are in secrets/ (never commit, never share)'));
  await writeFile(paths.composeFile, files.compose, { mode: 0o644 });
  await writeFile(paths.manifestFile, files.manifest, { mode: 0o644 });
  await writeTemplateFiles(paths, files.initdbDir);
}

/**
 * The files a template's render mounts from the tenant's folder besides secrets: its initdb/
 * scripts (./initdb in the compose file). Every path that writes a render (provision, upgrade, and
 * move, restore and clone through provision) writes these too: a render that mounts ./initdb with no
 * such folder fails on a remote engine (remote-files.ts ships every bind) and mounts an empty
 * folder on a local one. Idempotent.
 */
export async function writeTemplateFiles(paths: Pick<TenantPaths, 'initdbDir'>, initdbSource: string | null): Promise<void> {
  if (initdbSource === null) return;
  await mkdir(paths.initdbDir, { recursive: true });
  for (const name of await readdir(initdbSource)) {
    const target = path.join(paths.initdbDir, name);
    await copyFile(path.join(initdbSource, name), target);
    await chmod(target, 0o755); // read by the database container's postgres user
  }
  await chmod(paths.initdbDir, 0o755);
}

export async function removeTenantFiles(paths: TenantPaths): Promise<void> {
  await rm(paths.dir, { recursive: true, force: true });
}
