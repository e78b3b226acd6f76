import type pg from 'pg';
import { TenantctlError } from '../common/errors.js';
import type { AdminDb } from '../admin-db/database.js';
import { isoOrNull, requireCustomer } from '../admin-db/customers.js';
import { recordAudit } from '../audit/write.js';

// Feature modules (admin_feature_modules: the priced catalogue) and which ones each customer has
// (admin_customer_modules), with the MRR they add up to. Every change runs in one transaction
// with its audit row, so the log never misses or invents a change.

export interface FeatureModule {
  key: string;
  name: string;
  description: string;
  /** USD per month; summed exactly in SQL, a number here for display and JSON. */
  monthlyPrice: number;
  defaultEnabled: boolean;
}

export interface CustomerModule extends FeatureModule {
  enabled: boolean;
  /** When it was last switched on (kept after it is switched off). */
  enabledAt: string | null;
  disabledAt: string | null;
}

export interface ModuleChange {
  customerId: string;
  module: string;
  enabled: boolean;
  /** What it was before: null when the customer never had a row for it (off). */
  previous: boolean | null;
  /** False when it already was in that state: nothing was written or audited. */
  changed: boolean;
}

export interface CustomerMrr {
  customerId: string;
  name: string;
  plan: string;
  enabledModules: number;
  /** USD per month. */
  mrr: number;
}

const toModule = (row: any): FeatureModule => ({
  key: row.key,
  name: row.name,
  description: row.description,
  monthlyPrice: Number(row.monthly_price),
  defaultEnabled: row.default_enabled,
});

async function requireModule(client: pg.ClientBase, key: string): Promise<void> {
  const { rows } = await client.query('SELECT key FROM admin_feature_modules ORDER BY key');
  const known = rows.map((r) => r.key as string);
  if (!known.includes(key)) {
    const shown = JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key);
    throw new TenantctlError('usage', `unknown module ${shown}; known: ${known.join(', ')}`);
  }
}

/** The catalogue; with a customer, each module with its state for that customer (notFound if unknown). */
export async function listModules(db: AdminDb): Promise<FeatureModule[]>;
export async function listModules(db: AdminDb, customerId: string): Promise<CustomerModule[]>;
export async function listModules(db: AdminDb, customerId?: string): Promise<FeatureModule[] | CustomerModule[]> {
  if (customerId === undefined) {
    const { rows } = await db.guard(db.pool.query('SELECT * FROM admin_feature_modules ORDER BY monthly_price, key'));
    return rows.map(toModule);
  }
  const client = await db.connect();
  try {
    return await db.guard((async () => {
      await requireCustomer(client, customerId);
      const { rows } = await client.query(
        `SELECT fm.*, COALESCE(cm.enabled, false) AS enabled, cm.enabled_at, cm.disabled_at
         FROM admin_feature_modules fm
         LEFT JOIN admin_customer_modules cm ON cm.module_key = fm.key AND cm.customer_id = $1
         ORDER BY fm.monthly_price, fm.key`,
        [customerId],
      );
      return rows.map((row): CustomerModule => ({ ...toModule(row), enabled: row.enabled, enabledAt: isoOrNull(row.enabled_at), disabledAt: isoOrNull(row.disabled_at) }));
    })());
  } finally {
    client.release();
  }
}

/**
 * Switches one module on or off for a customer, audited as module.enabled / module.disabled with
 * the old and new state. Setting the state it already has changes and audits nothing.
 */
export async function setModule(db: AdminDb, customerId: string, moduleKey: string, enabled: boolean): Promise<ModuleChange> {
  return db.guard(db.withTransaction((client) => setModuleIn(db, client, customerId, moduleKey, enabled)));
}

/**
 * setModule inside the caller's transaction: a verb whose close must commit with the change and its
 * audit row (a restore's modules set back, with the journal's close) passes its own client.
 */
export async function setModuleIn(db: AdminDb, client: pg.ClientBase, customerId: string, moduleKey: string, enabled: boolean): Promise<ModuleChange> {
  await requireModule(client, moduleKey);
  await requireCustomer(client, customerId, { forChange: true, lock: 'FOR NO KEY UPDATE' });
  const before = await client.query('SELECT enabled FROM admin_customer_modules WHERE customer_id = $1 AND module_key = $2', [customerId, moduleKey]);
  const previous: boolean | null = before.rows[0]?.enabled ?? null;
  if ((previous ?? false) === enabled) return { customerId, module: moduleKey, enabled, previous, changed: false };

  if (enabled) {
    await client.query(
      `INSERT INTO admin_customer_modules (customer_id, module_key, enabled, enabled_at, disabled_at, updated_at)
       VALUES ($1, $2, true, now(), NULL, now())
       ON CONFLICT (customer_id, module_key) DO UPDATE SET enabled = true, enabled_at = now(), disabled_at = NULL, updated_at = now()`,
      [customerId, moduleKey],
    );
  } else {
    // There is a row: without one the module was off already and we returned above.
    await client.query('UPDATE admin_customer_modules SET enabled = false, disabled_at = now(), updated_at = now() WHERE customer_id = $1 AND module_key = $2', [customerId, moduleKey]);
  }
  await recordAudit(db, client, customerId, enabled ? 'module.enabled' : 'module.disabled', { module: moduleKey, enabled: previous }, { module: moduleKey, enabled });
  return { customerId, module: moduleKey, enabled, previous, changed: true };
}

/** Each catalogue module's on/off for a customer, read in the caller's transaction (off: no row). */
export async function moduleStatesIn(client: pg.ClientBase, customerId: string): Promise<Map<string, boolean>> {
  const { rows } = await client.query(
    `SELECT fm.key, COALESCE(cm.enabled, false) AS enabled FROM admin_feature_modules fm
     LEFT JOIN admin_customer_modules cm ON cm.module_key = fm.key AND cm.customer_id = $1`,
    [customerId],
  );
  return new Map(rows.map((r) => [r.key as string, r.enabled as boolean]));
}

/**
 * Enables the default modules (default_enabled) for a customer, inside the caller's transaction.
 * Idempotent: a module the customer already has a row for, on or off, is left as it is, so a
 * re-provisioned tenant keeps the choices made for it. Returns the keys it enabled now (for the
 * caller's audit row); an empty array the second time.
 */
export async function applyDefaultModules(client: pg.ClientBase, customerId: string): Promise<string[]> {
  const { rows } = await client.query(
    `INSERT INTO admin_customer_modules (customer_id, module_key, enabled, enabled_at, updated_at)
     SELECT $1, key, true, now(), now() FROM admin_feature_modules WHERE default_enabled
     ON CONFLICT (customer_id, module_key) DO NOTHING
     RETURNING module_key`,
    [customerId],
  );
  return rows.map((r) => r.module_key as string).sort();
}

/** Monthly recurring revenue per active customer (admin_customer_mrr); one row or none with an id. */
export async function mrr(db: AdminDb, customerId?: string): Promise<CustomerMrr[]> {
  const { rows } = await db.guard(
    customerId === undefined
      ? db.pool.query('SELECT * FROM admin_customer_mrr ORDER BY customer_id')
      : db.pool.query('SELECT * FROM admin_customer_mrr WHERE customer_id = $1', [customerId]),
  );
  return rows.map((row) => ({ customerId: row.customer_id, name: row.name, plan: row.plan, enabledModules: row.enabled_modules, mrr: Number(row.mrr) }));
}
