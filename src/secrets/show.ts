import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { parseTenantId } from '../tenants/input.js';
import { recordAudit } from '../audit/write.js';
import { TenantRegistry } from '../tenants/registry.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import type { NamedSecrets } from './generate.js';
import { openSecretBox } from './master-key.js';
import { readNamedTenantSecrets } from './sealed-store.js';

export interface SecretsResult {
  id: string;
  /** The secrets the tenant's template declares, by name. */
  secrets: NamedSecrets;
}

/**
 * Shows a tenant's passwords to the operator, on purpose: decrypted from the admin database with the
 * master key, and recorded in the audit log as `secrets.viewed` (who, and which key; not the values).
 */
export async function secrets(ctx: Context, input: { id: unknown }): Promise<SecretsResult> {
  const id = parseTenantId(input.id);
  const db = await ctx.adminDb();
  // An unknown tenant is exit 3 whatever the key situation.
  const record = await new TenantRegistry(db).get(id);
  if (!record) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  const names = Object.keys((await loadTenantTemplate(ctx, record)).block.secrets);
  // create: false: looking at secrets must not generate a master key nobody has seen.
  const box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: false });
  const values = await readNamedTenantSecrets(db, box, id, names);
  await db.withTransaction((client) => recordAudit(db, client, id, 'secrets.viewed', null, { names, key: box.fingerprint }));
  return { id, secrets: values };
}
