import type { Context } from '../context.js';
import { TenantctlError } from '../errors.js';
import { parseTenantId } from '../tenant/input.js';
import { secretNames, type TenantSecrets } from '../secrets.js';
import { openSecretBox } from '../crypto/master-key.js';
import { readTenantSecrets } from '../db/secrets-store.js';

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
  const registry = await ctx.registry();
  // An unknown tenant is exit 3 whatever the key situation.
  if (!(await registry.get(id))) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  // create: false: looking at secrets must not generate a master key nobody has seen.
  const box = await openSecretBox(registry, { env: ctx.env, stateDir: ctx.config.stateDir, create: false });
  const values = await readTenantSecrets(registry, box, id);
  await registry.withTransaction((client) => registry.audit(client, id, 'secrets.viewed', null, { names: secretNames, key: box.fingerprint }));
  return { id, secrets: values };
}
