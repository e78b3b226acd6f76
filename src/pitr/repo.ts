import type { Readable, Writable } from 'node:stream';
import type { Context } from '../context.js';

// What PITR asks of the backup repository (src/repository/, restic with its password never on argv
// nor in a container): run restic with a stream in or out. Declared here as the shape used, so the
// PITR code reads without the repository's internals; openRepository is its one implementation.

export interface PitrRepository {
  location: { display: string; url: string };
  run(args: readonly string[], options: { timeoutMs: number; signal?: AbortSignal; stdin?: Readable; stdout?: Writable }): Promise<{ stdout: string; stderrTail: string }>;
  json<T>(args: readonly string[], options: { timeoutMs: number; signal?: AbortSignal; stdin?: Readable; stdout?: Writable }): Promise<T>;
}

export async function openPitrRepository(ctx: Context): Promise<PitrRepository> {
  const { openRepository } = await import('../repository/restic.js');
  return openRepository(ctx);
}

/** Tags of a tenant's PITR snapshots: its WAL batches and its base backups. */
export const walTags = (tenant: string) => [`tenant=${tenant}`, 'kind=wal'];
export const baseTags = (tenant: string) => [`tenant=${tenant}`, 'kind=pitr-base'];
export const tagArgs = (tags: readonly string[]) => tags.flatMap((t) => ['--tag', t]);

export interface SnapshotSummary {
  id: string;
  short_id?: string;
  time: string;
  paths: string[];
  tags?: string[];
}

/** A tenant's snapshots with all of `tags`, oldest first. */
export async function snapshotsTagged(ctx: Context, repo: PitrRepository, tags: readonly string[]): Promise<SnapshotSummary[]> {
  const list = await repo.json<SnapshotSummary[] | null>(['snapshots', '--tag', tags.join(',')], { timeoutMs: repoQueryTimeoutMs, signal: ctx.signal });
  return (list ?? []).sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
}

/** restic snapshots/tag queries; a remote repository over sftp may take seconds. */
export const repoQueryTimeoutMs = 120_000;
/** A WAL batch or a base backup streamed into or out of the repository. */
export const repoTransferTimeoutMs = 6 * 60 * 60_000;
