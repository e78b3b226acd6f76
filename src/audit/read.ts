import { TenantctlError } from '../common/errors.js';
import type { AdminDb } from '../admin-db/database.js';
import { isoOrNull } from '../admin-db/customers.js';

// Reading the audit log (admin_audit_logs); rows are written by ./write.ts.

export interface AuditEntry {
  id: number;
  customerId: string | null;
  action: string;
  actor: string;
  oldValues: unknown;
  newValues: unknown;
  createdAt: string;
}

/**
 * Audit entries, newest first: all customers or one, from `since` on, at most `limit`. A customer
 * id that is neither on record nor in the log is notFound (audit rows outlive their customer).
 */
export async function auditLog(db: AdminDb, { customerId, since, limit }: { customerId?: string; since?: Date; limit: number }): Promise<AuditEntry[]> {
  return db.guard((async () => {
    if (customerId !== undefined) {
      const { rows } = await db.pool.query(
        'SELECT EXISTS (SELECT 1 FROM admin_customers WHERE id = $1) OR EXISTS (SELECT 1 FROM admin_audit_logs WHERE customer_id = $1) AS known',
        [customerId],
      );
      if (!rows[0].known) throw new TenantctlError('notFound', `no tenant ${customerId} in the admin database`);
    }
    const { rows } = await db.pool.query(
      `SELECT id, customer_id, action, actor, old_values, new_values, created_at FROM admin_audit_logs
       WHERE ($1::text IS NULL OR customer_id = $1) AND ($2::timestamptz IS NULL OR created_at >= $2)
       ORDER BY created_at DESC, id DESC
       LIMIT $3`,
      [customerId ?? null, since ?? null, limit],
    );
    return rows.map((row): AuditEntry => ({
      id: Number(row.id),
      customerId: row.customer_id,
      action: row.action,
      actor: row.actor,
      oldValues: row.old_values,
      newValues: row.new_values,
      createdAt: isoOrNull(row.created_at)!,
    }));
  })());
}
