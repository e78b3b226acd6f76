import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';

/**
 * Appends to admin_audit_logs inside the caller's transaction: who (the admin database's actor),
 * what, old and new values. Callers pass names and fingerprints, never secret values. Changes that
 * belong to no customer (a host of the fleet) have a NULL customer id.
 */
export async function recordAudit(db: Pick<AdminDb, 'actor'>, client: pg.ClientBase, customerId: string | null, action: string, oldValues: unknown, newValues: unknown): Promise<void> {
  await client.query('INSERT INTO admin_audit_logs (customer_id, action, actor, old_values, new_values) VALUES ($1, $2, $3, $4, $5)', [
    customerId, action, db.actor, oldValues === null ? null : JSON.stringify(oldValues), newValues === null ? null : JSON.stringify(newValues),
  ]);
}
