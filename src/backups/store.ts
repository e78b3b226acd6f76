import type { AdminDb } from '../admin-db/database.js';
import type { BackupManifest } from './manifest.js';

// admin_backups: one row per backup of one tenant, with its job state. A running backup beats
// every few seconds; a running row whose heartbeat is older than staleAfterMs belongs to a process
// that died (listed as "stale", and its files are a .partial folder nothing restores).

export type BackupState = 'running' | 'succeeded' | 'failed' | 'pruned';

export interface BackupRecord {
  id: string;
  tenant: string;
  host: string;
  directory: string;
  state: BackupState;
  /** running, but no heartbeat for staleAfterMs: its process is gone. */
  stale: boolean;
  reason: string | null;
  sizeBytes: number | null;
  manifestSha256: string | null;
  manifest: BackupManifest | null;
  /** A backup in the restic repository (src/repository/): its key, where it is (redacted), and each file's snapshot id. Null: a folder backup. */
  repository: string | null;
  repositoryDisplay: string | null;
  snapshots: Record<string, string>;
  createdBy: string;
  startedAt: string;
  heartbeatAt: string;
  finishedAt: string | null;
}

/** How often a running backup beats, and after how long without one it is judged dead. */
export const heartbeatEveryMs = 5_000;
export const staleAfterMs = 60_000;

const toRecord = (row: any): BackupRecord => ({
  id: row.id,
  tenant: row.customer_id,
  host: row.host,
  directory: row.directory,
  state: row.state,
  stale: row.state === 'running' && row.stale === true,
  reason: row.reason,
  sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
  manifestSha256: row.manifest_sha256,
  manifest: row.manifest,
  repository: row.repository ?? null,
  repositoryDisplay: row.repository_display ?? null,
  snapshots: row.snapshots ?? {},
  createdBy: row.created_by,
  startedAt: (row.started_at as Date).toISOString(),
  heartbeatAt: (row.heartbeat_at as Date).toISOString(),
  finishedAt: row.finished_at ? (row.finished_at as Date).toISOString() : null,
});

const select = `SELECT *, heartbeat_at < now() - make_interval(secs => ${staleAfterMs / 1000}) AS stale FROM admin_backups`;

export class BackupStore {
  constructor(private readonly db: AdminDb) {}

  async start(input: { id: string; tenant: string; host: string; directory: string; repository?: { key: string; display: string } }): Promise<void> {
    await this.db.pool.query(
      'INSERT INTO admin_backups (id, customer_id, host, directory, state, created_by, repository, repository_display) VALUES ($1, $2, $3, $4, \'running\', $5, $6, $7)',
      [input.id, input.tenant, input.host, input.directory, this.db.actor, input.repository?.key ?? null, input.repository?.display ?? null],
    ).catch(this.db.unreachable);
  }

  /** A file's snapshot in the repository, recorded as soon as restic wrote it (so a killed run's snapshots are known). */
  async addSnapshot(id: string, file: string, snapshot: string): Promise<void> {
    await this.db.pool.query(
      'UPDATE admin_backups SET snapshots = snapshots || jsonb_build_object($2::text, $3::text), heartbeat_at = now() WHERE id = $1 AND state = \'running\'',
      [id, file, snapshot],
    ).catch(this.db.unreachable);
  }

  async heartbeat(id: string): Promise<void> {
    await this.db.pool.query('UPDATE admin_backups SET heartbeat_at = now() WHERE id = $1 AND state = \'running\'', [id]);
  }

  async succeed(id: string, done: { directory: string; sizeBytes: number; manifestSha256: string; manifest: BackupManifest }): Promise<void> {
    await this.db.pool.query(
      `UPDATE admin_backups SET state = 'succeeded', directory = $2, size_bytes = $3, manifest_sha256 = $4, manifest = $5,
         heartbeat_at = now(), finished_at = now() WHERE id = $1 AND state = 'running'`,
      [id, done.directory, done.sizeBytes, done.manifestSha256, JSON.stringify(done.manifest)],
    ).catch(this.db.unreachable);
  }

  async fail(id: string, reason: string): Promise<void> {
    await this.db.pool.query('UPDATE admin_backups SET state = \'failed\', reason = $2, heartbeat_at = now(), finished_at = now() WHERE id = $1 AND state = \'running\'', [id, reason.slice(0, 2000)]).catch(this.db.unreachable);
  }

  async markPruned(id: string, reason = 'removed by --keep'): Promise<void> {
    await this.db.pool.query('UPDATE admin_backups SET state = \'pruned\', reason = $2 WHERE id = $1', [id, reason]).catch(this.db.unreachable);
  }

  async get(id: string): Promise<BackupRecord | undefined> {
    const { rows } = await this.db.pool.query(`${select} WHERE id = $1`, [id]).catch(this.db.unreachable);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Newest first; pruned ones only with `includePruned`. */
  async list(filter: { tenant?: string; includePruned?: boolean } = {}): Promise<BackupRecord[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.tenant) {
      values.push(filter.tenant);
      where.push(`customer_id = $${values.length}`);
    }
    if (!filter.includePruned) where.push('state <> \'pruned\'');
    const { rows } = await this.db.pool.query(`${select}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC`, values).catch(this.db.unreachable);
    return rows.map(toRecord);
  }
}
