import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TenantctlError, messageOf } from '../common/errors.js';
import { remoteFilesTimeoutMs } from '../common/timeouts.js';
import type { ComposeTarget } from './compose-argv.js';
import type { DockerHost } from '../engine/docker-host.js';
import { tmpfsOverImageVolumes } from '../engine/docker.js';
import { remoteCompose, RemoteComposeError, type ShippedVolume } from './remote-compose.js';
import { tarArchive, type TarEntry } from '../engine/tar.js';
import { childEnvironment } from '../common/child-env.js';

/** Beside the tenant's compose file: the same stack with shipped volumes instead of local paths (no secret in it). */
export const remoteComposeFileName = 'docker-compose.remote.yml';

/**
 * The compose target to use on `host`: the tenant's own file on a local engine; on a remote one
 * the rewritten file (remote-compose.ts) beside it, and, when `ship`, the files it needs copied
 * into their volumes on the target first (every time: secrets may have been rotated).
 */
export async function composeTargetFor(host: DockerHost, target: ComposeTarget, { ship, signal }: { ship: boolean; signal?: AbortSignal }): Promise<ComposeTarget> {
  if (host.isLocal) return target;
  const baseDir = path.dirname(target.file);
  let rendered;
  try {
    rendered = remoteCompose(await readFile(target.file, 'utf8'), baseDir);
  } catch (error) {
    if (error instanceof RemoteComposeError) throw new TenantctlError('usage', `${target.file} cannot run on ${host.id}: ${error.message}`);
    throw new TenantctlError('usage', `cannot read ${target.file}: ${messageOf(error)}`, { cause: error });
  }
  const remoteFile = path.join(baseDir, remoteComposeFileName);
  await writeFile(remoteFile, rendered.text, { mode: 0o644 });
  if (ship && rendered.volumes.length > 0) {
    if (!rendered.helperImage) throw new TenantctlError('usage', `${target.file}: no service image to copy files with on ${host.id}`);
    await shipVolumes(host, target.project, rendered.volumes, rendered.helperImage, signal);
  }
  return { ...target, file: remoteFile };
}

/**
 * Creates each volume as compose would (its project and volume labels, so `compose down -v` and
 * removal by project label take it too) and fills them all through one short-lived container of
 * the stack's own image: a tar stream on its stdin, extracted as root with the owners it names
 * (root, or a non-root service's uid for its secrets), the old content removed first.
 */
async function shipVolumes(host: DockerHost, project: string, volumes: ShippedVolume[], image: string, signal?: AbortSignal): Promise<void> {
  const entries: TarEntry[] = [];
  const mounts: string[] = [];
  for (const volume of volumes) {
    const name = `${project}_${volume.key}`;
    await host.docker(['volume', 'create', '--label', `com.docker.compose.project=${project}`, '--label', `com.docker.compose.volume=${volume.key}`, '--label', 'tenantctl.managed=true', name], { signal });
    mounts.push('-v', `${name}:/tenantctl-files/${volume.key}`);
    const secretVolume = volume.entries.some((entry) => entry.mode !== undefined);
    entries.push({ name: `${volume.key}/`, mode: secretVolume ? 0o700 : 0o755, ...volume.owner });
    for (const entry of volume.entries) entries.push(...(await collect(entry, volume.key)).map((file) => ({ ...file, ...volume.owner })));
  }
  // Extracted as root, tar keeps each entry's uid and gid as archived (no owner names in the headers):
  // root's, or a non-root service's for its secrets.
  const script = 'set -e; for d in /tenantctl-files/*; do find "$d" -mindepth 1 -delete; done; tar -x -C /tenantctl-files';
  // The stack's image may declare VOLUMEs (the first shipping service's: PostgreSQL's data directory
  // in crm): a tmpfs there, else each provision's copy made an anonymous volume, a copy of the
  // image's files, that --rm does not always remove (pitr/volume-steps.ts says when).
  const noAnonymousVolume = await tmpfsOverImageVolumes(host, image, signal, volumes.map((v) => `/tenantctl-files/${v.key}`));
  const { execa } = await import('execa');
  const result = await execa('docker', ['run', '--rm', '-i', '--network', 'none', '--user', '0:0', '--entrypoint', 'sh', '--label', 'tenantctl.managed=true', ...mounts, ...noAnonymousVolume, image, '-c', script], {
    input: tarArchive(entries),
    env: childEnvironment(host.env),
    extendEnv: false,
    reject: false,
    timeout: remoteFilesTimeoutMs,
    cancelSignal: signal,
  });
  if (signal?.aborted) throw new TenantctlError('interrupted', `copying ${project}'s files to ${host.id} was cancelled`);
  if (result.exitCode !== 0) {
    const line = String(result.stderr).trim().split('\n').pop() || (result.timedOut ? `no answer within ${remoteFilesTimeoutMs / 1000} s` : 'no message');
    throw new TenantctlError('docker', `copying ${project}'s files (secrets, initdb) to ${host.id} failed: ${line}`);
  }
}

/** The tar entries of one local file or directory, under `prefix/target`. */
async function collect(entry: ShippedVolume['entries'][number], prefix: string): Promise<TarEntry[]> {
  const info = await stat(entry.source).catch((error) => {
    throw new TenantctlError('usage', `${entry.source} is needed on the remote engine but cannot be read: ${messageOf(error)}`, { cause: error });
  });
  const at = path.posix.join(prefix, entry.target);
  if (entry.kind === 'file') {
    if (!info.isFile()) throw new TenantctlError('usage', `${entry.source} is not a file`);
    return [{ name: at, mode: entry.mode ?? info.mode & 0o777, content: await readFile(entry.source) }];
  }
  if (!info.isDirectory()) {
    throw new TenantctlError('usage', `${entry.source} is bind-mounted as a single file; on a remote engine only directories can be shipped (mount its folder instead)`);
  }
  const found: TarEntry[] = [];
  if (entry.target !== '.') found.push({ name: `${at}/`, mode: info.mode & 0o777 });
  for (const name of (await readdir(entry.source)).sort()) {
    const child = path.join(entry.source, name);
    const childInfo = await stat(child);
    found.push(...(await collect({ source: child, target: path.posix.join(entry.target, name), kind: childInfo.isDirectory() ? 'dir' : 'file' }, prefix)));
  }
  return found;
}
