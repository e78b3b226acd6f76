import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import type { AdminDb } from '../admin-db/database.js';
import { execIn, postgresSuperuser } from '../backups/containers.js';
import { superuserSql } from './archive.js';
import { dockerPipe } from './docker-pipe.js';
import { baseTags, repoTransferTimeoutMs, tagArgs, type PitrRepository } from './repo.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { incarnationTag } from './incarnation.js';

// A PITR base backup: the tenant's whole PostgreSQL cluster, physically (pg_basebackup -Ft -X none,
// run in its own container over the local socket as the superuser), streamed as one tar straight
// into the repository (`restic backup --stdin`, tags tenant=<id> kind=pitr-base incarnation=<id>). The logical dump
// `backup` makes cannot replay WAL; this can. -X none: the WAL the backup needs is archived like all
// the rest (pg_basebackup waits for it) and shipped after it. Recorded in admin_pitr_base_backups
// (once that WAL is shipped) with when it completed: a to-time restore starts from the newest base completed before its target.

export const baseFileName = 'pgdata.tar';

export interface BaseBackupResult {
  snapshotId: string;
  startedAt: string;
  completedAt: string;
  bytes: number;
  /** The cluster's incarnation (incarnation.ts): null in rows recorded before migration 037. */
  incarnation: string | null;
}

export async function takeBaseBackup(ctx: Context, repo: PitrRepository, where: { tenant: string; container: string; anyRole: string }, incarnation: string): Promise<BaseBackupResult> {
  await warnOfSetAsideCopies(ctx, where);
  const startedAt = new Date(ctx.clock.now()).toISOString();
  const superuser = await postgresSuperuser(ctx.dockerHost, where.container, where.anyRole, ctx.signal);
  const base = await dockerPipe(ctx.dockerHost, ['exec', where.container, 'pg_basebackup', '-h', '/run/postgresql', '-U', superuser, '-D', '-', '-Ft', '-X', 'none', '--checkpoint=fast', '--no-manifest'],
    { out: true }, { timeoutMs: repoTransferTimeoutMs, signal: ctx.signal, what: `pg_basebackup of ${where.tenant}` });
  let summary: { snapshot_id?: string; total_bytes_processed?: number };
  try {
    summary = await repo.json(['backup', '--stdin', '--stdin-filename', baseFileName, ...tagArgs([...baseTags(where.tenant), incarnationTag(incarnation)]), '--host', 'tenantctl'],
      { timeoutMs: repoTransferTimeoutMs, signal: ctx.signal, stdin: base.stdout });
  } catch (error) {
    base.kill();
    await base.done.catch(ignoreFailure('pg_basebackup killed after restic failed: restic\'s failure is the cause thrown'));
    throw error;
  }
  await base.done;
  const completedAt = new Date(ctx.clock.now()).toISOString();
  return { snapshotId: snapshotIdOf(summary), startedAt, completedAt, bytes: Math.round(summary.total_bytes_processed ?? 0), incarnation };
}

/** The snapshot restic's summary names; a summary without one is a failure, never a row with ''. */
export function snapshotIdOf(summary: { snapshot_id?: unknown }): string {
  const id = typeof summary.snapshot_id === 'string' ? summary.snapshot_id.trim() : '';
  if (!/^[0-9a-f]{8,64}$/.test(id)) throw new TenantctlError('repository', `restic's backup summary named no snapshot id (${JSON.stringify(summary).slice(0, 200)}): the base backup is not recorded`);
  return id;
}

/**
 * Records a base backup for to-time restores. Called only once the WAL it needs (up to the end of
 * the backup) is shipped: a row before that would offer a base no restore can finish from.
 */
export async function recordBase(db: AdminDb, repository: string, tenant: string, base: BaseBackupResult): Promise<void> {
  await db.pool.query(
    'INSERT INTO admin_pitr_base_backups (snapshot_id, customer_id, repository, started_at, completed_at, bytes, incarnation) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [base.snapshotId, tenant, repository, base.startedAt, base.completedAt, base.bytes, base.incarnation],
  ).catch(db.unreachable);
}

/**
 * What an undone to-time restore kept of a restored server (`.tenantctl-pitr-<n>-restored/`) lives in
 * the data directory, the volume's root, and pg_basebackup copies every folder it does not know:
 * while one is there, every base backup carries a second copy of the database. Said on each backup
 * until it is removed (moving it out of the volume would break the renames-only undo).
 */
async function warnOfSetAsideCopies(ctx: Context, where: { tenant: string; container: string; anyRole: string }): Promise<void> {
  const dataDir = await superuserSql(ctx, where.container, where.anyRole, 'SHOW data_directory', 'asking PostgreSQL for its data directory');
  const found = (await execIn(ctx.dockerHost, where.container, ['find', dataDir, '-mindepth', '1', '-maxdepth', '1', '-name', '.tenantctl-pitr-*-restored'], { signal: ctx.signal, what: 'looking for kept restore data' }))
    .split('\n').map((l) => l.trim()).filter(Boolean);
  for (const dir of found) {
    ctx.reporter.info(`warning: ${dir} in ${where.tenant}'s data directory (kept by an undone to-time restore) is copied into every base backup: look at it and remove it (as root in the database container: tenantctl exec ${where.tenant} <its postgres service> -- rm -rf ${dir})`);
  }
}

/** The newest base backup of the tenant completed before `time` in this repository. */
export async function baseBefore(db: AdminDb, tenant: string, repository: string, time: Date): Promise<BaseBackupResult | undefined> {
  const { rows } = await db.pool.query(
    'SELECT * FROM admin_pitr_base_backups WHERE customer_id = $1 AND repository = $2 AND completed_at < $3 ORDER BY completed_at DESC LIMIT 1',
    [tenant, repository, time],
  ).catch(db.unreachable);
  const r = rows[0];
  return r ? { snapshotId: r.snapshot_id, startedAt: (r.started_at as Date).toISOString(), completedAt: (r.completed_at as Date).toISOString(), bytes: Number(r.bytes), incarnation: r.incarnation ?? null } : undefined;
}
