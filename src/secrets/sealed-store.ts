import type pg from 'pg';
import { TenantctlError } from '../common/errors.js';
import { anySecretPattern, type NamedSecrets, type TenantSecrets } from './generate.js';
import type { SecretBox } from './master-key.js';
import type { AdminDb } from '../admin-db/database.js';
import { recordAudit } from '../audit/write.js';

// A tenant's passwords at rest: one sealed JSON document in admin_customers.secrets_ciphertext.
// The purpose binds it to its tenant, so a value copied to another row does not open. Audit rows
// name what was sealed and under which key fingerprint, never the values.

export const tenantSecretsPurpose = (id: string) => `tenant-secrets:${id}`;

type Store = Pick<AdminDb, 'pool' | 'withTransaction' | 'unreachable' | 'actor'>;

/** Seals and stores (or replaces) the tenant's secrets. The tenant's row must exist. */
export async function storeTenantSecrets(db: Store, box: SecretBox, id: string, secrets: TenantSecrets | NamedSecrets): Promise<void> {
  await db.withTransaction((client) => storeTenantSecretsIn(db, client, box, id, secrets));
}

/** storeTenantSecrets in the caller's transaction (a rotation commits its new values with its journal). */
export async function storeTenantSecretsIn(db: Pick<AdminDb, 'actor'>, client: pg.ClientBase, box: SecretBox, id: string, secrets: TenantSecrets | NamedSecrets): Promise<void> {
  const names = Object.keys(secrets);
  const sealed = box.seal(JSON.stringify(pickNamedSecrets(secrets, names, id, 'internal')), tenantSecretsPurpose(id));
  const { rows } = await client.query('SELECT secrets_ciphertext IS NOT NULL AS had FROM admin_customers WHERE id = $1 FOR UPDATE', [id]);
  if (!rows[0]) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  await client.query('UPDATE admin_customers SET secrets_ciphertext = $2, updated_at = now() WHERE id = $1', [id, sealed]);
  await recordAudit(db, client, id, 'secrets.stored', { sealed: rows[0].had }, { sealed: true, names, key: box.fingerprint });
}

/** A template's secrets (`names`) from the sealed copy. */
export async function readNamedTenantSecrets(db: Store, box: SecretBox, id: string, names: readonly string[]): Promise<NamedSecrets> {
  return pickNamedSecrets(await readSealedDocument(db, box, id), names, id, 'adminDb');
}

async function readSealedDocument(db: Store, box: SecretBox, id: string): Promise<unknown> {
  const { rows } = await db.pool.query('SELECT secrets_ciphertext FROM admin_customers WHERE id = $1', [id]).catch(db.unreachable);
  if (!rows[0]) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  if (rows[0].secrets_ciphertext === null) throw new TenantctlError('notFound', `no stored secrets for ${id} in the admin database (it was not provisioned with secrets at rest, or was deprovisioned)`);
  const plaintext = box.open(rows[0].secrets_ciphertext, tenantSecretsPurpose(id));
  let document: unknown;
  try {
    document = JSON.parse(plaintext);
  } catch {
    document = undefined;
  }
  return document;
}

/** Forgets the tenant's stored secrets (when its data is gone, they unlock nothing). */
export async function clearTenantSecrets(db: Store, id: string): Promise<void> {
  await db.withTransaction(async (client) => {
    const { rowCount } = await client.query('UPDATE admin_customers SET secrets_ciphertext = NULL WHERE id = $1 AND secrets_ciphertext IS NOT NULL', [id]);
    if (rowCount) await recordAudit(db, client, id, 'secrets.cleared', { sealed: true }, { sealed: false });
  });
}

/** Exactly the named secrets, each in a generated alphabet; anything else is refused, not stored or returned. */
function pickNamedSecrets(value: unknown, names: readonly string[], id: string, kind: 'internal' | 'adminDb'): NamedSecrets {
  const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const bad = names.filter((name) => typeof record[name] !== 'string' || !anySecretPattern.test(record[name] as string));
  if (bad.length > 0) {
    const where = kind === 'internal' ? 'to store' : 'stored in the admin database';
    throw new TenantctlError(kind, `the secrets of ${id} ${where} are incomplete or malformed: ${bad.join(', ')}`);
  }
  return Object.fromEntries(names.map((name) => [name, record[name] as string]));
}

