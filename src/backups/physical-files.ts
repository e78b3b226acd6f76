import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { ensurePrivateDir } from '../common/private-files.js';
import { dumpRestoreTimeoutMs, resticHelperStopTimeoutMs, resticQueryTimeoutMs, resticStreamTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { dockerToFile } from '../engine/docker-stream.js';
import { tmpfsOverImageVolumes } from '../engine/docker.js';
import type { Repository } from '../repository/restic.js';
import { resticPaths } from '../repository/restic.js';
import { execIn, postgresSuperuser, stackContainer } from './containers.js';
import { pieceContainer, type Piece } from './pieces.js';
import type { SnapshotContext } from './piece-snapshots.js';
import { openSqlSession } from './sql-session.js';
import { walSegmentsBetween } from './wal-segments.js';
import { listingOf, listingProblem } from './data-listing.js';
import { coarseTimestampKernel } from './kernel-timestamps.js';
import { tarEntry } from './tar-entry.js';
import { firstResticError, unreadFiles } from './restic-unread.js';
import { readBack, saveStream, snapshotPath, type Digest, type SaveTarget } from './in-repository.js';
import type { BackupStore } from './store.js';

// A file-level physical backup (backup --physical): the PostgreSQL data directory's FILES backed up
// by restic, so a second backup reads only what changed. restic skips a file whose size, mtime,
// ctime and inode are those of the parent snapshot (the same host and path) without reading it: an
// unchanged 1 GB tenant is a walk of its files, not a read of its gigabytes. PostgreSQL's low-level
// API makes the copy restorable ("Making a Base Backup Using the Low Level API"):
//   1. one session (sql-session.ts): a temporary physical replication slot reserving WAL from now
//      (no checkpoint recycles the segments the backup needs), then pg_backup_start(fast)
//   2. restic, in a helper container with the data volume mounted read-only at the stable path
//      /tenantctl/<tenant>/<piece>.pgdata, backs the files up (pg_wal's and the server's run-time
//      files left out) as snapshot <piece>.pgdata                           pause backup:physical-files
//   3. pg_backup_stop: its backup_label (and tablespace_map), with the WAL segments from the start
//      LSN's to the stop LSN's copied out of pg_wal, as the small tar <piece>.pgwal.tar
//                                                                           pause backup:physical-saved
//   4. the tar read back and hashed; the data snapshot's listing (restic ls: trees only) compared
//      with what restic reported reading, its SHA-256 recorded; the slot dropped, the session ended.
// A run killed anywhere ends its session (docker exec's stdin closes): PostgreSQL aborts the backup
// and drops the slot itself. Its helper finishes or is stopped by the next backup (SIGINT: restic
// removes its own lock); its snapshots are forgotten like any failed backup's.
// The helper runs restic from tenantctl/agent-base (restic and ssh; scripts/build-images.sh), as
// root (the data directory is 0700), without network for a local repository, on the host's network
// for sftp; the repository password reaches it as a 0600 file mounted read-only for the run.

export const defaultHelperImage = 'tenantctl/agent-base:bookworm';
/** The image the helper's restic runs from: TENANTCTL_PHYSICAL_HELPER_IMAGE, else tenantctl/agent-base (restic and ssh). */
export const helperImageOf = (ctx: Pick<Context, 'env'>) => ctx.env.TENANTCTL_PHYSICAL_HELPER_IMAGE?.trim() || defaultHelperImage;
export const dataFileOf = (piece: Pick<Piece, 'name'>) => `${piece.name}.pgdata`;
export const walFileOf = (piece: Pick<Piece, 'name'>) => `${piece.name}.pgwal.tar`;
/** The helper's bounds: restic holds the repository's index in memory (a few hundred MB for a large one). */
const helperMemory = '2g';
const helperPids = 512;
const helperName = (tenant: string) => `tenantctl-physical-${tenant}`;

/** What the data directory's snapshot leaves out: WAL (its own tar), run-time state and temp files. */
export function dataExcludes(mount: string): string[] {
  const inRoot = ['pg_wal/*', 'postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'pg_replslot/*', 'pg_stat_tmp/*',
    'pg_dynshmem/*', 'pg_notify/*', 'pg_serial/*', 'pg_snapshots/*', 'pg_subtrans/*', '.tenantctl-*'];
  return [...inRoot.map((p) => `${mount}/${p}`), 'pgsql_tmp*', 'pg_internal.init'].flatMap((p) => ['--exclude', p]);
}

/**
 * Why the file-level way cannot run for this repository and engine (undefined: it can). The helper
 * mounts files of this machine (password, local repository, ssh key) and takes no credential by
 * environment: a remote engine, or a backend other than a local folder or sftp, takes the tar stream.
 */
export async function fileLevelBlocker(ctx: Context, repo: Repository): Promise<string | undefined> {
  if (!repo.forContainer) return 'this repository handle cannot be opened from a container';
  if (!ctx.dockerHost.isLocal) return 'the tenant\'s Docker engine is not on this machine (the helper mounts the repository password from here)';
  const backend = repo.location.backend;
  if (backend !== 'local' && backend !== 'sftp') return `the repository's ${backend} backend would need its credentials inside the helper container`;
  // The helper has none of the operator's ~/.ssh: it reaches an sftp repository only with both files named.
  if (backend === 'sftp' && !(ctx.config.backups.sshKey && ctx.config.backups.sshKnownHosts)) return 'an sftp repository needs backups.sshKey and backups.sshKnownHosts for the helper container (it has no ~/.ssh)';
  const kernel = await ctx.dockerHost.run(['docker', 'info', '--format', '{{.KernelVersion}}'], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
  const coarse = coarseTimestampKernel(kernel.exitCode === 0 ? kernel.stdout : '');
  if (coarse) return coarse;
  const image = await ctx.dockerHost.run(['docker', 'image', 'inspect', '--format', '{{.Id}}', helperImageOf(ctx)], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
  if (image.exitCode !== 0) return `the helper image ${helperImageOf(ctx)} (restic) is not on this engine (scripts/build-images.sh builds ${defaultHelperImage})`;
  return undefined;
}

/** The file-level way cannot take this tenant's cluster (found before anything was started): the caller takes the tar instead. */
export class NotFileLevel extends Error {}

export interface FileLevelResult {
  dataFile: string;
  walFile: string;
  data: { snapshot: string; files: number; bytes: number; listingSha256: string; added: number; unmodified: number };
  wal: { snapshot: string; bytes: number; sha256: string; segments: number };
  image: string;
  imageId: string;
  version: string;
  major: number;
}

export async function backupPhysicalFiles(s: SnapshotContext, piece: Piece, target: SaveTarget, store: BackupStore): Promise<FileLevelResult> {
  const { ctx } = s;
  const container = await pieceContainer(ctx, s.project, piece);
  if (!container.running) throw new TenantctlError('conflict', `the ${piece.service} container of ${s.tenant} is not running (tenantctl start ${s.tenant})`);
  const superuser = await postgresSuperuser(ctx.dockerHost, container.id, piece.user!, ctx.signal);
  const sql = (query: string, what: string) => execIn(ctx.dockerHost, container.id, ['psql', '-X', '-A', '-t', '-h', '/run/postgresql', '-U', superuser, '-d', 'postgres', '-c', query], { what, signal: ctx.signal }).then((out) => out.trim());
  const versionNum = await sql('SHOW server_version_num', 'asking PostgreSQL for its version');
  const major = Math.floor(Number(versionNum) / 10_000);
  if (!Number.isInteger(major) || major < 11) throw new TenantctlError('docker', `a file-level physical backup needs PostgreSQL 11 or later; ${s.tenant}'s ${piece.name} answers server_version_num ${JSON.stringify(versionNum)}`);
  const dataDir = await sql('SHOW data_directory', 'asking PostgreSQL for its data directory');
  const volume = (await stackContainer(ctx.dockerHost, s.project, piece.service, ctx.signal))?.volumes[dataDir];
  if (!volume) throw new NotFileLevel(`the data directory ${dataDir} of ${s.tenant}'s ${piece.service} is not the root of a named volume (the helper mounts that volume)`);
  // restic does not follow pg_tblspc's symlinks, and pg_basebackup cannot stream several tablespaces as one tar: refused, never half taken.
  const tablespaces = await sql("SELECT string_agg(spcname, ', ') FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')", 'asking PostgreSQL for its tablespaces');
  if (tablespaces) throw new TenantctlError('usage', `${s.tenant}'s ${piece.name} has tablespaces (${tablespaces}): a physical backup covers the data directory only; back it up logically`);
  // The data directory's owner: the WAL is read as that user (never root: a container may have no
  // DAC_OVERRIDE), and backup_label/tablespace_map are given its ownership in the tar.
  const [uid, gid] = (await execIn(ctx.dockerHost, container.id, ['stat', '-c', '%u:%g', dataDir], { what: 'asking the data directory\'s owner', signal: ctx.signal })).trim().split(':').map(Number);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new TenantctlError('docker', `the owner of ${s.tenant}'s data directory ${dataDir} is not a uid:gid`);
  const owner = { uid: uid!, gid: gid! };
  const segmentBytes = Number(await sql("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'", 'asking PostgreSQL for its WAL segment size'));

  const dataFile = dataFileOf(piece);
  const walFile = walFileOf(piece);
  const session = await openSqlSession(ctx.dockerHost, container.id, superuser, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal, what: `the backup session of ${s.tenant}` });
  try {
    const slot = `tenantctl_backup_${randomBytes(4).toString('hex')}`;
    // Temporary: dropped by PostgreSQL when the session ends, however it ends.
    await session.query(`SELECT pg_create_physical_replication_slot('${slot}', true, true)`);
    const label = `tenantctl ${target.backupId}`.replace(/[^A-Za-z0-9 ._-]/g, '');
    const startLsn = await session.query(major >= 15 ? `SELECT pg_backup_start('${label}', true)` : `SELECT pg_start_backup('${label}', true, false)`);
    if (!/^[0-9A-F]+\/[0-9A-F]+$/.test(startLsn)) throw new TenantctlError('docker', `pg_backup_start of ${s.tenant} answered ${JSON.stringify(startLsn.slice(0, 100))}, not an LSN`);

    ctx.reporter.step(`backing up the data files of ${piece.name} of ${s.tenant} (restic skips the files unchanged since its last backup)`);
    const data = await resticInHelper(ctx, target, piece, volume);
    await store.addSnapshot(target.backupId, dataFile, data.snapshot);
    // The data files' snapshot is written, the server still in backup mode: where e2e tests kill a file-level backup.
    await ctx.pause('backup:physical-files');

    const stop = JSON.parse(await session.query(`SELECT json_build_object('label', s.labelfile, 'map', coalesce(s.spcmapfile, ''), 'first', pg_walfile_name('${startLsn}'::pg_lsn), 'last', pg_walfile_name(s.lsn))::text FROM ${major >= 15 ? 'pg_backup_stop(false)' : 'pg_stop_backup(false, false)'} s`)) as { label: string; map: string; first: string; last: string };
    const segments = walSegmentsBetween(stop.first, stop.last, segmentBytes);
    ctx.reporter.step(`saving the backup's label and its ${segments.length} WAL segment(s) (${stop.first} .. ${stop.last})`);
    const { result: wal, snapshot: walSnapshot } = await saveStream(ctx, target, walFile, (sink) => streamWalTar(s, container.id, { dataDir, owner, segments, label: stop.label, map: stop.map }, sink));
    await store.addSnapshot(target.backupId, walFile, walSnapshot);
    // Both snapshots written, neither checked nor recorded.
    await ctx.pause('backup:physical-saved');

    ctx.reporter.step(`reading the backup's label and WAL back from the repository, and the data snapshot's listing`);
    const back: Digest = { bytes: 0, sha256: '' };
    await readBack(ctx, target.repo, walSnapshot, target.tenant, walFile, drain, back);
    if (back.bytes !== wal.bytes || back.sha256 !== wal.sha256) throw new TenantctlError('repository', `${walFile} read back from the repository is not the one written (${back.bytes} bytes, ${wal.bytes} written): not recorded as a backup`);
    const mount = `/${snapshotPath(target.tenant, dataFile)}`;
    const ls = await target.repo.run(['ls', '--no-lock', '--json', data.snapshot], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
    const listing = listingOf(ls.stdout, mount);
    const problem = listingProblem(listing, { files: data.files, bytes: data.bytes });
    if (problem) throw new TenantctlError('repository', `the data snapshot of ${s.tenant} is not the backup restic reported: ${problem}; not recorded as a backup`);

    await session.query(`SELECT pg_drop_replication_slot('${slot}')`);
    return {
      dataFile, walFile,
      data: { ...data, listingSha256: listing.sha256 },
      wal: { snapshot: walSnapshot, bytes: wal.bytes, sha256: wal.sha256, segments: segments.length },
      image: container.image, imageId: container.imageId, version: `PostgreSQL ${versionNum}`, major,
    };
  } finally {
    await session.close();
  }
}

/**
 * The label-and-WAL tar on `sink`: backup_label and tablespace_map (when there is one) from memory,
 * then tar of the segments (and the timeline history files) read in place from pg_wal by the data
 * directory's owner: nothing copied, nothing written in the container (its /tmp may be a small tmpfs).
 * Its size and SHA-256 cover the whole tar.
 */
async function streamWalTar(s: SnapshotContext, container: string, wal: { dataDir: string; owner: { uid: number; gid: number }; segments: string[]; label: string; map: string }, sink: Writable): Promise<Digest> {
  const { ctx } = s;
  const mtime = ctx.clock.now() / 1000;
  const head = Buffer.concat([
    tarEntry('backup_label', wal.label, { ...wal.owner, mode: 0o600, mtime }),
    ...(wal.map ? [tarEntry('tablespace_map', wal.map, { ...wal.owner, mode: 0o600, mtime })] : []),
  ]);
  const hash = createHash('sha256').update(head);
  let bytes = head.length;
  sink.write(head);
  const tee = new Writable({
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      if (sink.write(chunk)) done();
      else sink.once('drain', () => done());
    },
  });
  const r = await dockerToFile(ctx.dockerHost, [
    'exec', '-u', `${wal.owner.uid}:${wal.owner.gid}`, '-e', 'PGDATA_DIR', container, 'sh', '-c', walTarScript, 'sh', ...wal.segments,
  ], tee, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal, env: { PGDATA_DIR: wal.dataDir } });
  if (r.exitCode !== 0) throw new TenantctlError('docker', `reading the backup's WAL out of ${s.tenant}'s pg_wal failed (exit ${r.exitCode}): ${lastErrorLine(r.stderrTail)}`);
  if (r.bytes < 1024 || r.head.subarray(257, 262).toString('latin1') !== 'ustar') throw new TenantctlError('docker', `the WAL of ${s.tenant}'s backup is not a tar archive (${r.bytes} bytes)`);
  return { bytes, sha256: hash.digest('hex') };
}

/** sh in the tenant's PostgreSQL container (as the data directory's owner; the segments as arguments): pg_wal/<segment>... and pg_wal/*.history as one tar on stdout. */
const walTarScript = [
  'set -eu',
  'cd "$PGDATA_DIR"',
  'for seg in "$@"; do shift; set -- "$@" "pg_wal/$seg"; done',
  'for h in pg_wal/*.history; do [ ! -e "$h" ] || set -- "$@" "$h"; done',
  'exec tar --numeric-owner -cf - "$@"',
].join('\n');

interface ResticSummary { message_type?: string; snapshot_id?: string; total_files_processed?: number; total_bytes_processed?: number; data_added?: number; files_unmodified?: number }

/** restic backup of the data volume (read-only, at the snapshot's stable path) in the helper container. */
async function resticInHelper(ctx: Context, target: SaveTarget, piece: Piece, volume: string): Promise<{ snapshot: string; files: number; bytes: number; added: number; unmodified: number }> {
  const name = helperName(target.tenant);
  await stopHelper(ctx, name);
  const mount = `/${snapshotPath(target.tenant, dataFileOf(piece))}`;
  // Its own cache (written by the helper's root), kept between runs: the parent snapshot's trees are read from it.
  const cacheDir = path.join(path.dirname(resticPaths(ctx.config.stateDir).cacheDir), 'helper-cache');
  await ensurePrivateDir(cacheDir);
  if (!target.repo.forContainer) throw new TenantctlError('internal', 'the repository cannot be opened from a container');
  return target.repo.forContainer(async (access) => {
    const mounts = ['-v', `${volume}:${mount}:ro`, '-v', `${access.passwordFile}:/run/tenantctl/restic-password:ro`, '-v', `${cacheDir}:/run/tenantctl/restic-cache`];
    let url = access.url;
    if (target.repo.location.backend === 'local') {
      url = path.resolve(url.replace(/^local:/, ''));
      mounts.push('-v', `${url}:${url}`);
    }
    for (const file of [access.ssh?.key, access.ssh?.knownHosts]) if (file) mounts.push('-v', `${path.resolve(file)}:${path.resolve(file)}:ro`);
    // The helper image is the operator's to choose (TENANTCTL_PHYSICAL_HELPER_IMAGE): a tmpfs over
    // any VOLUME it declares, else each backup left an anonymous volume --rm does not always remove.
    mounts.push(...await tmpfsOverImageVolumes(ctx.dockerHost, helperImageOf(ctx), ctx.signal, mounts.filter((_, i) => i % 2 === 1).map((m) => m.split(':')[1]!)));
    const argv = ['docker', 'run', '--rm', '--name', name, '--label', `tenantctl.backup=${target.tenant}`, '--user', '0',
      '--network', target.repo.location.backend === 'local' ? 'none' : 'host', '--security-opt', 'no-new-privileges',
      // Reading the 0700 data directory and writing a repository folder owned by tenantctl's user; nothing else (no chown, no chmod of others' files).
      '--cap-drop', 'ALL', '--cap-add', 'DAC_READ_SEARCH', '--cap-add', 'DAC_OVERRIDE', '--memory', helperMemory, '--pids-limit', String(helperPids),
      ...mounts, '-e', `RESTIC_REPOSITORY=${url}`, '-e', 'RESTIC_PASSWORD_FILE=/run/tenantctl/restic-password', '-e', 'RESTIC_CACHE_DIR=/run/tenantctl/restic-cache',
      '--entrypoint', 'restic', helperImageOf(ctx), ...access.extraArgs,
      'backup', mount, ...dataExcludes(mount), '--tag', `tenant=${target.tenant}`, '--tag', `backup=${target.backupId}`, '--tag', 'tenantctl', '--host', target.host, '--json', '--quiet'];
    const local = target.repo.location.backend === 'local';
    // A killed run's helper left root's files in a local repository: given back before anything reads it.
    if (local) await giveBackRepositoryFiles(ctx, url);
    let result: Awaited<ReturnType<typeof ctx.dockerHost.run>>;
    const stderr: string[] = [];
    try {
      result = await ctx.dockerHost.run(argv, { timeoutMs: resticStreamTimeoutMs, signal: ctx.signal, onStderrLine: (line) => { if (stderr.length < 100_000) stderr.push(line); } });
      if (result.cancelled || result.timedOut || result.exitCode !== 0) {
        // The container outlives its docker client: stopped with SIGINT, so restic removes its own lock.
        await stopHelper(quietly(ctx), name).catch(ignoreFailure('the backup\'s own failure is the one thrown; the next backup stops a helper left running'));
      }
    } finally {
      // However restic ended (a failure, exit 3, a timeout, Ctrl-C), what it added is tenantctl's user's again.
      if (local) await giveBackRepositoryFiles(quietly(ctx), url).catch(ignoreFailure('the backup\'s own outcome is the one reported; the next file-level backup gives the files back first'));
    }
    if (result.cancelled) throw new TenantctlError('interrupted', `the file-level backup of ${target.tenant} was interrupted`);
    if (result.timedOut) throw new TenantctlError('repository', `the file-level backup of ${target.tenant} did not finish within ${resticStreamTimeoutMs / 1000} s`);
    const unread = result.exitCode === 3 ? unreadFiles(stderr, mount) : undefined;
    if (result.exitCode !== 0 && !(unread && unread.vanishedOnly)) {
      throw new TenantctlError('repository', `restic backup of ${target.tenant}'s data files failed (exit ${result.exitCode}): ${firstResticError(stderr) || lastErrorLine(result.stderrTail)}`);
    }
    if (unread && unread.files.length > 0) ctx.reporter.detail(`${unread.files.length} file(s) vanished while restic walked the data directory (WAL replay recreates or drops them): ${unread.files.slice(0, 5).join(', ')}`);
    const summary = result.stdout.trim().split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ResticSummary).find((j) => j.message_type === 'summary');
    const snapshot = summary?.snapshot_id?.trim() ?? '';
    if (!/^[0-9a-f]{8,64}$/.test(snapshot)) throw new TenantctlError('repository', `restic backup of ${target.tenant}'s data files reported no snapshot id`);
    return { snapshot, files: Number(summary!.total_files_processed ?? 0), bytes: Number(summary!.total_bytes_processed ?? 0), added: Number(summary!.data_added ?? 0), unmodified: Number(summary!.files_unmodified ?? 0) };
  });
}

/** The context for clean-up after a failure or Ctrl-C: its own signal, so it still runs. */
const quietly = (ctx: Context): Context => ({ ...ctx, signal: new AbortController().signal });

/**
 * The helper's restic is root: the files it added to a local repository are given to the user
 * tenantctl runs as (its own restic must read them), when that is not root.
 */
async function giveBackRepositoryFiles(ctx: Context, repository: string): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  if (uid === 0) return;
  const r = await ctx.dockerHost.run(['docker', 'run', '--rm', '--user', '0', '--network', 'none', '--cap-drop', 'ALL', '--cap-add', 'CHOWN', '--cap-add', 'DAC_READ_SEARCH',
    '-v', `${repository}:${repository}`, ...await tmpfsOverImageVolumes(ctx.dockerHost, helperImageOf(ctx), ctx.signal, [repository]), '--entrypoint', 'sh', helperImageOf(ctx), '-c', 'find "$1" \\( ! -uid "$2" -o ! -gid "$3" \\) -exec chown -h "$2:$3" {} +', 'sh', repository, String(uid), String(gid)],
  { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
  if (r.exitCode !== 0) throw new TenantctlError('repository', `giving the repository's new files back to uid ${uid} failed (exit ${r.exitCode}): ${lastErrorLine(r.stderrTail)}`);
}

/**
 * A helper still running (a killed run's, or this run's after its client was stopped) is told to stop
 * with SIGINT (restic removes its lock and writes no snapshot), then removed.
 */
async function stopHelper(ctx: Context, name: string): Promise<void> {
  const opts = { timeoutMs: resticHelperStopTimeoutMs, signal: ctx.signal };
  const running = await ctx.dockerHost.run(['docker', 'ps', '-q', '--filter', `name=^${name}$`], opts);
  if (running.stdout.trim()) {
    ctx.reporter.step(`stopping the backup helper ${name} a previous run left`);
    await ctx.dockerHost.run(['docker', 'kill', '--signal', 'INT', name], opts);
    await ctx.dockerHost.run(['docker', 'wait', name], opts);
  }
  // -v: any anonymous volume it has goes with it (`rm -f` alone keeps them).
  await ctx.dockerHost.run(['docker', 'rm', '-fv', name], opts);
}

const drain = async (source: Readable) => {
  for await (const _chunk of source) { /* hashed by readBack */ }
  return {};
};
