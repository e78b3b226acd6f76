import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';
import { TenantctlError } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';

// What a move keeps of the tenant as it was on its source host, in its operation's journal row
// (admin_operations.data, migration 011): its admin_customers row (ports, subnet, sealed secrets)
// and its allocations there. Saved in the same transaction that detaches the row from the source
// (status 'deprovisioned', which lets the restore provision the id on the target); put back as
// saved by an undo. The tenant's API keys are never touched but for the one key the target's
// provision made (revokeApiKeysById): a key the operator revoked meanwhile stays revoked.

export interface SavedTenant {
  savedRow: Record<string, unknown>;
  savedAllocations: Array<{ host: string; kind: string; value: string; customer_id: string; purpose: string; created_at: string }>;
}

/** Saves the active tenant and detaches its row from the source, in the caller's transaction. */
export async function saveAndDetach(db: AdminDb, client: pg.ClientBase, id: string, targetHost: string): Promise<SavedTenant> {
  const row = (await client.query('SELECT to_jsonb(c) AS row, status, host FROM admin_customers c WHERE id = $1 FOR UPDATE', [id])).rows[0];
  if (!row) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  if (row.status !== 'active') throw new TenantctlError('conflict', `tenant ${id} is ${row.status}; only an active tenant is moved`);
  const savedAllocations = (await client.query('SELECT COALESCE(jsonb_agg(to_jsonb(a)), \'[]\') AS a FROM admin_allocations a WHERE customer_id = $1', [id])).rows[0].a;
  await client.query("UPDATE admin_customers SET status = 'deprovisioned', status_reason = $2, updated_at = now() WHERE id = $1", [id, `moving to ${targetHost}`]);
  await recordAudit(db, client, id, 'move.started', { host: row.host, status: 'active' }, { host: targetHost });
  return { savedRow: row.row, savedAllocations };
}

/**
 * Puts the tenant's row back on the source as it was saved: every column and its allocations there
 * (what the target's reservation holds goes). An allocation another tenant took meanwhile cannot
 * come back: `missing` names each one, for the caller to report instead of calling the tenant whole.
 */
export async function putRowBack(db: AdminDb, client: pg.ClientBase, id: string, saved: SavedTenant, { sourceHost, targetHost, reason }: { sourceHost: string; targetHost: string; reason: string }): Promise<{ saved: number; missing: string[] }> {
  const columns = (await client.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'admin_customers' AND column_name <> 'id' ORDER BY ordinal_position")).rows.map((r) => `"${r.column_name}"`);
  await client.query(
    `UPDATE admin_customers SET (${columns.join(', ')}) = (SELECT ${columns.join(', ')} FROM jsonb_populate_record(NULL::admin_customers, $2)) WHERE id = $1`,
    [id, JSON.stringify(saved.savedRow)],
  );
  await client.query('DELETE FROM admin_allocations WHERE customer_id = $1', [id]);
  const { rows: back } = await client.query(
    `INSERT INTO admin_allocations (host, kind, value, customer_id, purpose, created_at)
     SELECT host, kind, value, customer_id, purpose, created_at FROM jsonb_populate_recordset(NULL::admin_allocations, $1) ON CONFLICT DO NOTHING
     RETURNING host, kind, value`,
    [JSON.stringify(saved.savedAllocations)],
  );
  const allocation = (a: { host: string; kind: string; value: string }) => `${a.kind} ${a.value} on ${a.host}`;
  const taken = new Set(back.map(allocation));
  const missing = saved.savedAllocations.map(allocation).filter((a) => !taken.has(a));
  await recordAudit(db, client, id, 'move.rolled-back', { host: targetHost }, { host: sourceHost, status: 'active', reason, ...(missing.length > 0 ? { allocationsLost: missing } : {}) });
  return { saved: saved.savedAllocations.length, missing };
}
