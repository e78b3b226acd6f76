import type pg from 'pg';
import { TenantctlError } from '../common/errors.js';
import type { AdminDb } from '../admin-db/database.js';
import { isoOrNull, requireCustomer } from '../admin-db/customers.js';
import { recordAudit } from '../audit/write.js';
import { apiKeyPrefix, generateApiKey, hashApiKey } from './key.js';

// API keys (admin_api_keys): only the SHA-256 and a short prefix are stored. Every change runs in
// one transaction with its audit row (id, name, prefix; never the key).

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

const toApiKey = (row: any): ApiKeyRecord => ({
  id: row.id,
  customerId: row.customer_id,
  name: row.name,
  prefix: row.prefix,
  status: row.revoked_at ? 'revoked' : 'active',
  createdAt: isoOrNull(row.created_at)!,
  revokedAt: isoOrNull(row.revoked_at),
  lastUsedAt: isoOrNull(row.last_used_at),
});

/**
 * Creates an API key for a customer (not deprovisioned) and returns it whole, this once. Only its
 * SHA-256 and prefix are stored; the audit row has the id, name and prefix, never the key.
 */
export async function createApiKey(db: AdminDb, customerId: string, name: string): Promise<CreatedApiKey> {
  const key = generateApiKey();
  const prefix = apiKeyPrefix(key);
  return db.guard(db.withTransaction(async (client) => {
    await requireCustomer(client, customerId, { forChange: true, lock: 'FOR SHARE' });
    const { rows } = await client.query(
      'INSERT INTO admin_api_keys (customer_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4) RETURNING id, created_at',
      [customerId, name, prefix, hashApiKey(key)],
    );
    const id: string = rows[0].id;
    await recordAudit(db, client, customerId, 'api_key.created', null, { id, name, prefix });
    return { id, customerId, name, prefix, key, createdAt: isoOrNull(rows[0].created_at)! };
  }));
}

/** A customer's keys, revoked ones included, oldest first (notFound for an unknown customer). */
export async function listApiKeys(db: AdminDb, customerId: string): Promise<ApiKeyRecord[]> {
  const client = await db.connect();
  try {
    return await db.guard((async () => {
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
export async function revokeApiKey(db: AdminDb, customerId: string, keyId: string): Promise<RevokedApiKey> {
  return db.guard(db.withTransaction(async (client) => {
    await requireCustomer(client, customerId);
    const notFound = () => new TenantctlError('notFound', `no API key ${keyId} for tenant ${customerId}`);
    if (!uuidShape.test(keyId)) throw notFound();
    const before = await client.query('SELECT * FROM admin_api_keys WHERE id = $1 AND customer_id = $2 FOR UPDATE', [keyId, customerId]);
    if (!before.rows[0]) throw notFound();
    if (before.rows[0].revoked_at) return { outcome: 'already-revoked', key: toApiKey(before.rows[0]) };
    const { rows } = await client.query('UPDATE admin_api_keys SET revoked_at = now() WHERE id = $1 RETURNING *', [keyId]);
    const revoked = toApiKey(rows[0]);
    const identity = { id: revoked.id, name: revoked.name, prefix: revoked.prefix };
    await recordAudit(db, client, customerId, 'api_key.revoked', { ...identity, revoked_at: null }, { ...identity, revoked_at: revoked.revokedAt });
    return { outcome: 'revoked', key: revoked };
  }));
}

/**
 * Revokes every active key of a customer inside the caller's transaction (deprovision, and the
 * rollback of a failed provision): keys to a stack that is gone must not keep working. Audited.
 */
export async function revokeAllApiKeys(db: AdminDb, client: pg.ClientBase, customerId: string): Promise<string[]> {
  const { rows } = await client.query('UPDATE admin_api_keys SET revoked_at = now() WHERE customer_id = $1 AND revoked_at IS NULL RETURNING id, name, prefix', [customerId]);
  if (rows.length > 0) await recordAudit(db, client, customerId, 'api_key.revoked_all', null, { keys: rows.map((r) => ({ id: r.id, name: r.name, prefix: r.prefix })) });
  return rows.map((r) => r.id as string);
}

/**
 * Revokes the listed keys of a customer (those still active) in the caller's transaction, audited:
 * a run undoes only the keys it made (a failed provision its initial key, a move the key its
 * target's provision made), never the customer's own, which the operator alone revokes.
 */
export async function revokeApiKeysById(db: AdminDb, client: pg.ClientBase, customerId: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await client.query(
    'UPDATE admin_api_keys SET revoked_at = now() WHERE customer_id = $1 AND id = ANY($2::uuid[]) AND revoked_at IS NULL RETURNING id, name, prefix',
    [customerId, ids],
  );
  for (const r of rows) await recordAudit(db, client, customerId, 'api_key.revoked', { id: r.id, name: r.name, prefix: r.prefix, revoked_at: null }, { id: r.id, reason: 'made by a run that did not complete' });
  return rows.map((r) => r.id as string);
}
