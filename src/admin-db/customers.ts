import type pg from 'pg';
import { TenantctlError } from '../common/errors.js';
import type { AdminDb } from './database.js';

// The one check every concept that hangs data on a customer row makes (modules, API keys): the
// tenant exists, and for changes, is neither deprovisioned nor being deprovisioned.

/**
 * The customer's status, or notFound. `forChange` also refuses a deprovisioned tenant (its record
 * stays for the audit trail, but nothing new is granted to it) and one being deprovisioned. `lock`
 * holds the row until the transaction ends: changes to one customer queue up, and a concurrent
 * deprovision (which locks the row to change its status) waits for them.
 */
export async function requireCustomer(client: pg.ClientBase, id: string, { forChange = false, lock }: { forChange?: boolean; lock?: 'FOR SHARE' | 'FOR NO KEY UPDATE' } = {}): Promise<string> {
  const { rows } = await client.query(`SELECT status FROM admin_customers WHERE id = $1 ${lock ?? ''}`, [id]);
  if (!rows[0]) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  const status: string = rows[0].status;
  if (forChange && status === 'deprovisioned') throw new TenantctlError('notFound', `tenant ${id} is deprovisioned; provision it again first`);
  if (forChange && status === 'deprovisioning') throw new TenantctlError('conflict', `tenant ${id} is being deprovisioned`);
  return status;
}

/** The customer's status, or undefined when there is no such row. */
export async function customerStatus(db: Pick<AdminDb, 'pool' | 'unreachable'>, id: string): Promise<string | undefined> {
  const { rows } = await db.pool.query('SELECT status FROM admin_customers WHERE id = $1', [id]).catch(db.unreachable);
  return rows[0]?.status;
}

export const isoOrNull = (value: Date | null) => (value ? value.toISOString() : null);
