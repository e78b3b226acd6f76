import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { parseTenantId } from '../tenants/input.js';
import { customerStatus } from '../admin-db/customers.js';
import { recordAudit } from '../audit/write.js';
import { secretNames, type TenantSecrets } from './generate.js';
import { openSecretBox } from './master-key.js';
import { readTenantSecrets } from './sealed-store.js';

export interface SecretsResult {
  id: string;
  secrets: TenantSecrets;
}

/**
 * Shows a tenant's passwords to the operator, on purpose: decrypted from the admin database with the
 * master key, and recorded in the audit log as `secrets.viewed` (who, and which key; not the values).
 */
export async function secrets(ctx: Context, input: { id: unknown }): Promise<SecretsResult> {
  const id = parseTenantId(input.id);
  const db = await ctx.adminDb();
  // An unknown tenant is exit 3 whatever the key situation.
  if (!(await customerStatus(db, id))) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  // create: false: looking at secrets must not generate a master key nobody has seen.
  const box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: false });
  const values = await readTenantSecrets(db, box, id);
  await db.withTransaction((client) => recordAudit(db, client, id, 'secrets.viewed', null, { names: secretNames, key: box.fingerprint }));
  return { id, secrets: values };
}
