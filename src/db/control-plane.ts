import type pg from 'pg';
import { TenantctlError } from '../errors.js';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../control-plane/api-key.js';
import type { Registry } from './registry.js';

// The control plane's data over the registry's pool: feature modules per customer, API keys, the
// audit log and MRR (scripts/admin-migrations/002_control_plane.sql). Every change runs in one
// transaction with its audit row, so the log never misses or invents a change.

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

export interface ApiKeyRecord {
  id: string;
  customerId: string;
  name: string;
  /** The key's first characters: enough to recognise it, useless to use it. */
  prefix: string;
  status: 'active' | 'revoked';
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface CreatedApiKey {
  id: string;
  customerId: string;
  name: string;
  prefix: string;
  /** The whole key: returned this once, never stored. */
  key: string;
  createdAt: string;
}

export interface RevokedApiKey {
  outcome: 'revoked' | 'already-revoked';
  key: ApiKeyRecord;
}

export interface AuditEntry {
  id: number;
  customerId: string | null;
  action: string;
  actor: string;
  oldValues: unknown;
  newValues: unknown;
  createdAt: string;
}

export interface CustomerMrr {
  customerId: string;
  name: string;
  plan: string;
  enabledModules: number;
  /** USD per month. */
  mrr: number;
}

const iso = (value: Date | null) => (value ? value.toISOString() : null);
const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const toModule = (row: any): FeatureModule => ({
  key: row.key,
  name: row.name,
  description: row.description,
  monthlyPrice: Number(row.monthly_price),
  defaultEnabled: row.default_enabled,
});

const toApiKey = (row: any): ApiKeyRecord => ({
  id: row.id,
  customerId: row.customer_id,
  name: row.name,
  prefix: row.prefix,
  status: row.revoked_at ? 'revoked' : 'active',
  createdAt: iso(row.created_at)!,
  revokedAt: iso(row.revoked_at),
  lastUsedAt: iso(row.last_used_at),
});

/** Database errors become exit 8 with one line; typed errors (not found, usage) pass through. */
function guard<T>(registry: Registry, work: Promise<T>): Promise<T> {
  return work.catch((error) => {
    if (error instanceof TenantctlError) throw error;
    return registry.unreachable(error);
  });
}

/**
 * The customer's status, or notFound. `forChange` also refuses a deprovisioned tenant (its record
 * stays for the audit trail, but nothing new is granted to it) and one being deprovisioned. `lock`
 * holds the row until the transaction ends: changes to one customer queue up, and a concurrent
 * deprovision (which locks the row to change its status) waits for them.
 */
async function requireCustomer(client: pg.ClientBase, id: string, { forChange = false, lock }: { forChange?: boolean; lock?: 'FOR SHARE' | 'FOR NO KEY UPDATE' } = {}): Promise<string> {
  const { rows } = await client.query(`SELECT status FROM admin_customers WHERE id = $1 ${lock ?? ''}`, [id]);
  if (!rows[0]) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  const status: string = rows[0].status;
  if (forChange && status === 'deprovisioned') throw new TenantctlError('notFound', `tenant ${id} is deprovisioned; provision it again first`);
  if (forChange && status === 'deprovisioning') throw new TenantctlError('conflict', `tenant ${id} is being deprovisioned`);
  return status;
}

async function requireModule(client: pg.ClientBase, key: string): Promise<void> {
  const { rows } = await client.query('SELECT key FROM admin_feature_modules ORDER BY key');
  const known = rows.map((r) => r.key as string);
  if (!known.includes(key)) {
    const shown = JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key);
    throw new TenantctlError('usage', `unknown module ${shown}; known: ${known.join(', ')}`);
  }
}

/** The catalogue; with a customer, each module with its state for that customer (notFound if unknown). */
export async function listModules(registry: Registry): Promise<FeatureModule[]>;
export async function listModules(registry: Registry, customerId: string): Promise<CustomerModule[]>;
export async function listModules(registry: Registry, customerId?: string): Promise<FeatureModule[] | CustomerModule[]> {
  if (customerId === undefined) {
    const { rows } = await guard(registry, registry.pool.query('SELECT * FROM admin_feature_modules ORDER BY monthly_price, key'));
    return rows.map(toModule);
  }
  const client = await registry.connect();
  try {
    return await guard(registry, (async () => {
      await requireCustomer(client, customerId);
      const { rows } = await client.query(
        `SELECT fm.*, COALESCE(cm.enabled, false) AS enabled, cm.enabled_at, cm.disabled_at
         FROM admin_feature_modules fm
         LEFT JOIN admin_customer_modules cm ON cm.module_key = fm.key AND cm.customer_id = $1
         ORDER BY fm.monthly_price, fm.key`,
        [customerId],
      );
      return rows.map((row): CustomerModule => ({ ...toModule(row), enabled: row.enabled, enabledAt: iso(row.enabled_at), disabledAt: iso(row.disabled_at) }));
    })());
  } finally {
    client.release();
  }
}

/**
 * Switches one module on or off for a customer, audited as module.enabled / module.disabled with
 * the old and new state. Setting the state it already has changes and audits nothing.
 */
export async function setModule(registry: Registry, customerId: string, moduleKey: string, enabled: boolean): Promise<ModuleChange> {
  return guard(registry, registry.withTransaction(async (client) => {
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
    await registry.audit(client, customerId, enabled ? 'module.enabled' : 'module.disabled', { module: moduleKey, enabled: previous }, { module: moduleKey, enabled });
    return { customerId, module: moduleKey, enabled, previous, changed: true };
  }));
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

/**
 * Creates an API key for a customer (not deprovisioned) and returns it whole, this once. Only its
 * SHA-256 and prefix are stored; the audit row has the id, name and prefix, never the key.
 */
export async function createApiKey(registry: Registry, customerId: string, name: string): Promise<CreatedApiKey> {
  const key = generateApiKey();
  const prefix = apiKeyPrefix(key);
  return guard(registry, registry.withTransaction(async (client) => {
    await requireCustomer(client, customerId, { forChange: true, lock: 'FOR SHARE' });
    const { rows } = await client.query(
      'INSERT INTO admin_api_keys (customer_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4) RETURNING id, created_at',
      [customerId, name, prefix, hashApiKey(key)],
    );
    const id: string = rows[0].id;
    await registry.audit(client, customerId, 'api_key.created', null, { id, name, prefix });
    return { id, customerId, name, prefix, key, createdAt: iso(rows[0].created_at)! };
  }));
}

/** A customer's keys, revoked ones included, oldest first (notFound for an unknown customer). */
export async function listApiKeys(registry: Registry, customerId: string): Promise<ApiKeyRecord[]> {
  const client = await registry.connect();
  try {
    return await guard(registry, (async () => {
      await requireCustomer(client, customerId);
      const { rows } = await client.query('SELECT * FROM admin_api_keys WHERE customer_id = $1 ORDER BY created_at, id', [customerId]);
      return rows.map(toApiKey);
    })());
  } finally {
    client.release();
  }
}

/**
 * Revokes one of a customer's keys (audited). A key that is already revoked is reported as such
 * and left alone; a key that is not this customer's is notFound, like one that does not exist.
 * Revoking stays possible for a deprovisioned customer: taking access away is always allowed.
 */
export async function revokeApiKey(registry: Registry, customerId: string, keyId: string): Promise<RevokedApiKey> {
  return guard(registry, registry.withTransaction(async (client) => {
    await requireCustomer(client, customerId);
    const notFound = () => new TenantctlError('notFound', `no API key ${keyId} for tenant ${customerId}`);
    if (!uuidShape.test(keyId)) throw notFound();
    const before = await client.query('SELECT * FROM admin_api_keys WHERE id = $1 AND customer_id = $2 FOR UPDATE', [keyId, customerId]);
    if (!before.rows[0]) throw notFound();
    if (before.rows[0].revoked_at) return { outcome: 'already-revoked', key: toApiKey(before.rows[0]) };
    const { rows } = await client.query('UPDATE admin_api_keys SET revoked_at = now() WHERE id = $1 RETURNING *', [keyId]);
    const revoked = toApiKey(rows[0]);
    const identity = { id: revoked.id, name: revoked.name, prefix: revoked.prefix };
    await registry.audit(client, customerId, 'api_key.revoked', { ...identity, revoked_at: null }, { ...identity, revoked_at: revoked.revokedAt });
    return { outcome: 'revoked', key: revoked };
  }));
}

/**
 * Audit entries, newest first: all customers or one, from `since` on, at most `limit`. A customer
 * id that is neither on record nor in the log is notFound (audit rows outlive their customer).
 */
export async function auditLog(registry: Registry, { customerId, since, limit }: { customerId?: string; since?: Date; limit: number }): Promise<AuditEntry[]> {
  return guard(registry, (async () => {
    if (customerId !== undefined) {
      const { rows } = await registry.pool.query(
        'SELECT EXISTS (SELECT 1 FROM admin_customers WHERE id = $1) OR EXISTS (SELECT 1 FROM admin_audit_logs WHERE customer_id = $1) AS known',
        [customerId],
      );
      if (!rows[0].known) throw new TenantctlError('notFound', `no tenant ${customerId} in the admin database`);
    }
    const { rows } = await registry.pool.query(
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
      createdAt: iso(row.created_at)!,
    }));
  })());
}

/** Monthly recurring revenue per active customer (admin_customer_mrr); one row or none with an id. */
export async function mrr(registry: Registry, customerId?: string): Promise<CustomerMrr[]> {
  const { rows } = await guard(
    registry,
    customerId === undefined
      ? registry.pool.query('SELECT * FROM admin_customer_mrr ORDER BY customer_id')
      : registry.pool.query('SELECT * FROM admin_customer_mrr WHERE customer_id = $1', [customerId]),
  );
  return rows.map((row) => ({ customerId: row.customer_id, name: row.name, plan: row.plan, enabledModules: row.enabled_modules, mrr: Number(row.mrr) }));
}

/**
 * Revokes every active key of a customer inside the caller's transaction (deprovision, and the
 * rollback of a failed provision): keys to a stack that is gone must not keep working. Audited.
 */
export async function revokeAllApiKeys(registry: Registry, client: pg.ClientBase, customerId: string): Promise<string[]> {
  const { rows } = await client.query('UPDATE admin_api_keys SET revoked_at = now() WHERE customer_id = $1 AND revoked_at IS NULL RETURNING id, name, prefix', [customerId]);
  if (rows.length > 0) await registry.audit(client, customerId, 'api_key.revoked_all', null, { keys: rows.map((r) => ({ id: r.id, name: r.name, prefix: r.prefix })) });
  return rows.map((r) => r.id as string);
}
