import { createHash } from 'node:crypto';
import { PassThrough, Writable, type Readable } from 'node:stream';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { resticForgetTimeoutMs, resticQueryTimeoutMs, resticStreamTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import type { Repository } from '../repository/restic.js';
import { markConfiguredPruneOwed } from '../repository/prune-interval.js';
import type { BackupRecord, BackupStore } from './store.js';

// How a backup lives in the restic repository: one snapshot per file of the backup (each piece's
// dump or archive, tenant.json, manifest.json), each made by `restic backup --stdin` from a stream
// (never a copy on local disk), named tenantctl/<tenant>/<file> and tagged tenant=<id>,
// backup=<backup id> and tenantctl, with the tenantctl host as restic's host. An operator reads it
// with restic alone: `restic snapshots --tag tenant=acme`, `restic dump <id> tenantctl/acme/db.dump`.
// A backup's `directory` in admin_backups is `repository:<backup id>`, which restore's journal keeps.

export const repositoryPrefix = 'repository:';
export const repositoryRef = (backupId: string) => `${repositoryPrefix}${backupId}`;
export const isRepositoryRef = (dir: string) => dir.startsWith(repositoryPrefix);
export const backupIdOfRef = (dir: string) => dir.slice(repositoryPrefix.length);

/** The snapshot's one path (restic --stdin-filename): grouped per tenant and file for retention. */
export const snapshotPath = (tenant: string, file: string) => `tenantctl/${tenant}/${file}`;

export interface Snapshot {
  id: string;
  short_id: string;
  time: string;
  paths: string[];
  hostname: string;
  tags?: string[];
}

export const tagOf = (s: Pick<Snapshot, 'tags'>, name: string) => s.tags?.find((t) => t.startsWith(`${name}=`))?.slice(name.length + 1);

interface BackupSummary { message_type: string; snapshot_id?: string; total_bytes_processed?: number; data_added?: number }

export interface SaveTarget {
  repo: Repository;
  tenant: string;
  backupId: string;
  host: string;
}

/**
 * `fill` writes a file's bytes into a stream that `restic backup --stdin` reads as it comes. The
 * stream is ended only when `fill` succeeded; when it fails, restic is stopped (SIGINT: no snapshot
 * is written) and fill's error is the cause. Returns fill's result and the new snapshot's id.
 */
export async function saveStream<T>(ctx: Context, target: SaveTarget, file: string, fill: (sink: Writable) => Promise<T>): Promise<{ result: T; snapshot: string }> {
  const pass = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let resticError: unknown;
  const saving = target.repo.json<BackupSummary>(
    ['backup', '--stdin', '--stdin-filename', snapshotPath(target.tenant, file), '--tag', `tenant=${target.tenant}`, '--tag', `backup=${target.backupId}`, '--tag', 'tenantctl', '--host', target.host, '--quiet'],
    { stdin: pass, timeoutMs: resticStreamTimeoutMs, signal: stop.signal, onStderrLine: ctx.reporter.detail },
  ).catch((error) => { resticError = error; throw error; });
  saving.catch(ignoreFailure('awaited where it matters; a path that throws resticError without awaiting it must not leave an unhandled rejection (node exits 1, no rollback)'));
  try {
    let result: T;
    try {
      result = await fill(pass);
    } catch (error) {
      // restic failing first (a wrong password, an unreachable repository) is the cause, not the broken pipe it left.
      if (resticError) throw resticError;
      stop.abort();
      await saving.catch(ignoreFailure("stopped on purpose: the error of use is the cause, restic's abort only its echo"));
      throw error;
    }
    pass.end();
    const summary = await saving;
    if (!summary.snapshot_id) throw new TenantctlError('repository', `restic backup of ${file} reported no snapshot id`);
    return { result, snapshot: summary.snapshot_id };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

/** A small file (tenant.json, manifest.json) as its own snapshot. */
export async function saveText(ctx: Context, target: SaveTarget, file: string, text: string): Promise<string> {
  const { snapshot } = await saveStream(ctx, target, file, async (sink) => {
    await new Promise<void>((resolve, reject) => sink.write(text, (error) => (error ? reject(error) : resolve())));
  });
  return snapshot;
}

/** What passed out of the repository: every byte restic dumped, whether or not the reader read it all. */
export interface Digest { bytes: number; sha256: string }

/**
 * `restic dump <snapshot> <path>` streamed into `use` (pg_restore --list, pg_restore, a helper
 * container staging a file). The whole dump is always read from the repository and hashed, even
 * when `use` stops reading early (pg_restore --list reads a custom-format dump's table of contents
 * only): `digest` gets its size and SHA-256, so a caller can compare them with what went in.
 * restic failing before `use` ended is the cause; a `use` that failed stops restic.
 */
export async function readBack<T extends { exitCode?: number }>(ctx: Context, repo: Repository, snapshot: string, tenant: string, file: string, use: (source: Readable) => Promise<T>, digest?: Digest): Promise<T> {
  const pass = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  const hash = createHash('sha256');
  let bytes = 0;
  // Hashes everything restic writes and hands it on while the reader reads; once it stopped, drops the rest.
  const sink = new Writable({
    highWaterMark: 4 * 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      if (pass.destroyed || pass.writableEnded) return callback();
      if (pass.write(chunk)) return callback();
      let called = false;
      const go = () => {
        if (called) return;
        called = true;
        pass.off('drain', go);
        pass.off('close', go);
        callback();
      };
      pass.once('drain', go);
      pass.once('close', go);
    },
  });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  let resticError: unknown;
  const reading = repo.run(['dump', '--no-lock', snapshot, `/${snapshotPath(tenant, file)}`], { stdout: sink, timeoutMs: resticStreamTimeoutMs, signal: stop.signal, onStderrLine: ctx.reporter.detail })
    .then(() => new Promise<void>((resolve) => sink.end(resolve)))
    .then(() => { if (!pass.destroyed) pass.end(); }, (error) => { resticError = error; pass.destroy(); throw error; });
  reading.catch(ignoreFailure('Ctrl-C rejects it while use still ends well: a path that throws resticError without awaiting it must not leave an unhandled rejection (node exits 1 instead of rolling back)'));
  try {
    let result: T;
    try {
      result = await use(pass);
    } catch (error) {
      if (resticError) throw resticError;
      stop.abort();
      await reading.catch(ignoreFailure("stopped on purpose: the error of use is the cause, restic's abort only its echo"));
      throw error;
    }
    if (resticError) throw resticError;
    if (result.exitCode !== undefined && result.exitCode !== 0) {
      stop.abort();
      await reading.catch(ignoreFailure('stopped on purpose: the failed exit use returned is the answer'));
      return result;
    }
    await reading;
    if (digest) Object.assign(digest, { bytes, sha256: hash.digest('hex') });
    return result;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

/** A whole small file read back (tenant.json, manifest.json). */
export async function readText(ctx: Context, repo: Repository, snapshot: string, tenant: string, file: string): Promise<string> {
  const chunks: Buffer[] = [];
  await readBack(ctx, repo, snapshot, tenant, file, async (source) => {
    for await (const chunk of source) chunks.push(chunk as Buffer);
    return {};
  });
  return Buffer.concat(chunks).toString('utf8');
}

/** The tenant's snapshots (tenantctl's own: tagged tenant=<id>). */
export async function tenantSnapshots(ctx: Context, repo: Repository, tenant: string): Promise<Snapshot[]> {
  return repo.json<Snapshot[]>(['snapshots', '--no-lock', '--tag', `tenant=${tenant}`], { timeoutMs: resticQueryTimeoutMs, signal: ctx.signal });
}

/**
 * The snapshots a failed backup of this host left: those tagged backup=<id> where <id> is a row of
 * admin_backups, of this tenant and this host, in state failed (a killed run's row is settled as
 * failed first, settle-left.ts). Everything else stays: snapshots without a backup= tag, any with a
 * kind= tag (the WAL archive's kind=wal and kind=pitr-base, the admin database's kind=admin), ids
 * this admin database does not know (another machine sharing the repository, or a backup made after
 * the admin database this one was recovered from), and every succeeded, running or pruned backup's.
 * `except` is the backup this run is making. Pure: the unit tests give it snapshot lists.
 */
export function failedBackupSnapshots(snapshots: readonly Snapshot[], backups: ReadonlyArray<Pick<BackupRecord, 'id' | 'state' | 'host' | 'tenant'>>, tenant: string, host: string, except?: string): Snapshot[] {
  const failed = new Set(backups.filter((b) => b.state === 'failed' && b.host === host && b.tenant === tenant).map((b) => b.id));
  return snapshots.filter((s) => {
    if (tagOf(s, 'kind') !== undefined || tagOf(s, 'tenant') !== tenant) return false;
    const backup = tagOf(s, 'backup');
    return backup !== undefined && backup !== except && failed.has(backup);
  });
}

/**
 * Forgets what failed backups of this host left in the repository (failedBackupSnapshots): a backup
 * that failed, or a run killed before it recorded itself, written whole or not. `restic forget`, no
 * prune (a prune is marked owed: the next retention run past the interval prunes), under the tenant's lock, so nothing in the repository claims to
 * be a backup that `tenantctl backups` lists as failed. Returns how many were forgotten.
 */
export async function forgetUnrecorded(ctx: Context, repo: Repository, store: BackupStore, tenant: string, host: string, except?: string): Promise<number> {
  const snapshots = await tenantSnapshots(ctx, repo, tenant);
  const orphans = failedBackupSnapshots(snapshots, await store.list({ tenant, includePruned: true }), tenant, host, except);
  if (orphans.length === 0) return 0;
  ctx.reporter.step(`forgetting ${orphans.length} snapshot${orphans.length === 1 ? '' : 's'} of ${tenant} that failed backups left`);
  // The prune that frees their data is owed from before the forget (prune-interval.ts).
  await markConfiguredPruneOwed(ctx);
  await repo.run(['forget', ...orphans.map((s) => s.id)], { timeoutMs: resticForgetTimeoutMs, signal: ctx.signal, onStderrLine: ctx.reporter.detail });
  return orphans.length;
}
