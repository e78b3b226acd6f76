import type { AdminDb } from '../admin-db/database.js';
import { TenantctlError } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';

// The journal of `tenantctl move` (admin_tenant_moves, migration 010): what the tenant was on its
// source host, written before its row leaves it, so that any failure, or a rerun after a crash,
// can put the row back exactly as it was (ports, subnet, sealed secrets, allocations, API keys).

export interface MoveRecord {
  id: number;
  customerId: string;
  sourceHost: string;
  targetHost: string;
  backupId: string;
  sourceDir: string;
}

const toRecord = (row: any): MoveRecord => ({
  id: Number(row.id), customerId: row.customer_id, sourceHost: row.source_host, targetHost: row.target_host, backupId: row.backup_id, sourceDir: row.source_dir,
});

export class MoveJournal {
  constructor(readonly db: AdminDb) {}

  async running(customerId: string): Promise<MoveRecord | undefined> {
    const { rows } = await this.db.pool.query("SELECT * FROM admin_tenant_moves WHERE customer_id = $1 AND state = 'running'", [customerId]).catch(this.db.unreachable);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /**
   * Saves the tenant as it is on the source and detaches its row from it, in one transaction: the
   * row becomes 'deprovisioned' (without releasing anything by itself), which is what lets restore
   * provision the same id on the target. The source's containers keep running meanwhile.
   */
  async begin(input: { customerId: string; sourceHost: string; targetHost: string; backupId: string; sourceDir: string }): Promise<MoveRecord> {
    return this.db.withTransaction(async (client) => {
      const row = (await client.query('SELECT to_jsonb(c) AS row, status FROM admin_customers c WHERE id = $1 FOR UPDATE', [input.customerId])).rows[0];
      if (!row) throw new TenantctlError('notFound', `no tenant ${input.customerId} in the admin database`);
      if (row.status !== 'active') throw new TenantctlError('conflict', `tenant ${input.customerId} is ${row.status}; only an active tenant is moved`);
      const allocations = (await client.query('SELECT COALESCE(jsonb_agg(to_jsonb(a)), \'[]\') AS a FROM admin_allocations a WHERE customer_id = $1', [input.customerId])).rows[0].a;
      const keys = (await client.query('SELECT COALESCE(jsonb_agg(id), \'[]\') AS k FROM admin_api_keys WHERE customer_id = $1 AND revoked_at IS NULL', [input.customerId])).rows[0].k;
      const { rows } = await client.query(
        `INSERT INTO admin_tenant_moves (customer_id, source_host, target_host, backup_id, source_dir, saved_row, saved_allocations, saved_keys)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
        [input.customerId, input.sourceHost, input.targetHost, input.backupId, input.sourceDir, row.row, JSON.stringify(allocations), JSON.stringify(keys)],
      );
      await client.query("UPDATE admin_customers SET status = 'deprovisioned', status_reason = $2, updated_at = now() WHERE id = $1", [input.customerId, `moving to ${input.targetHost}`]);
      await recordAudit(this.db, client, input.customerId, 'move.started', { host: input.sourceHost, status: 'active' }, { host: input.targetHost, backup: input.backupId });
      return toRecord(rows[0]);
    });
  }

  /**
   * Puts the tenant's row back on the source as it was saved: every column, its allocations there
   * and the API keys it had (a failed restore revokes keys when it deprovisions what it made).
   * An allocation another tenant took meanwhile cannot come back: `missing` names each one (of
   * `saved`), for the caller to report instead of calling the tenant whole.
   */
  async rollBack(move: MoveRecord, reason: string): Promise<{ saved: number; missing: string[] }> {
    return this.db.withTransaction(async (client) => {
      const saved = (await client.query('SELECT saved_row, saved_allocations, saved_keys FROM admin_tenant_moves WHERE id = $1 FOR UPDATE', [move.id])).rows[0];
      const columns = (await client.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'admin_customers' AND column_name <> 'id' ORDER BY ordinal_position")).rows.map((r) => `"${r.column_name}"`);
      await client.query(
        `UPDATE admin_customers SET (${columns.join(', ')}) = (SELECT ${columns.join(', ')} FROM jsonb_populate_record(NULL::admin_customers, $2)) WHERE id = $1`,
        [move.customerId, saved.saved_row],
      );
      await client.query('DELETE FROM admin_allocations WHERE customer_id = $1', [move.customerId]);
      const { rows: back } = await client.query(
        `INSERT INTO admin_allocations (host, kind, value, customer_id, purpose, created_at)
         SELECT host, kind, value, customer_id, purpose, created_at FROM jsonb_populate_recordset(NULL::admin_allocations, $1) ON CONFLICT DO NOTHING
         RETURNING host, kind, value`,
        [JSON.stringify(saved.saved_allocations)],
      );
      const allocation = (a: { host: string; kind: string; value: string }) => `${a.kind} ${a.value} on ${a.host}`;
      const taken = new Set(back.map(allocation));
      const missing = (saved.saved_allocations as Array<{ host: string; kind: string; value: string }>).map(allocation).filter((a) => !taken.has(a));
      await client.query('UPDATE admin_api_keys SET revoked_at = NULL WHERE customer_id = $1 AND id = ANY($2::uuid[])', [move.customerId, saved.saved_keys]);
      // Keys made by the target's provision are not the customer's: they go.
      await client.query('UPDATE admin_api_keys SET revoked_at = now() WHERE customer_id = $1 AND revoked_at IS NULL AND NOT (id = ANY($2::uuid[]))', [move.customerId, saved.saved_keys]);
      await client.query("UPDATE admin_tenant_moves SET state = 'rolled-back', reason = $2, finished_at = now() WHERE id = $1", [move.id, reason]);
      await recordAudit(this.db, client, move.customerId, 'move.rolled-back', { host: move.targetHost }, { host: move.sourceHost, status: 'active', reason, ...(missing.length > 0 ? { allocationsLost: missing } : {}) });
      return { saved: saved.saved_allocations.length, missing };
    });
  }

  /** The target is ready and the row names it: the customer keeps the API keys it had; the target provision's own key goes. */
  async complete(move: MoveRecord): Promise<void> {
    await this.db.withTransaction(async (client) => {
      const saved = (await client.query('SELECT saved_keys FROM admin_tenant_moves WHERE id = $1 FOR UPDATE', [move.id])).rows[0];
      await client.query('UPDATE admin_api_keys SET revoked_at = NULL WHERE customer_id = $1 AND id = ANY($2::uuid[])', [move.customerId, saved.saved_keys]);
      await client.query('UPDATE admin_api_keys SET revoked_at = now() WHERE customer_id = $1 AND revoked_at IS NULL AND NOT (id = ANY($2::uuid[]))', [move.customerId, saved.saved_keys]);
      await client.query("UPDATE admin_tenant_moves SET state = 'completed', finished_at = now() WHERE id = $1", [move.id]);
      await recordAudit(this.db, client, move.customerId, 'move.completed', { host: move.sourceHost }, { host: move.targetHost });
    });
  }
}
