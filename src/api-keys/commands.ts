import * as z from 'zod/mini';
import '../common/zod.js';
import type { Context } from '../context.js';
import { parseOrUsage, parseTenantId } from '../tenants/input.js';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRecord, type CreatedApiKey, type RevokedApiKey } from './store.js';

export interface KeysListResult {
  customerId: string;
  keys: ApiKeyRecord[];
}

export const apiKeyNameSchema = z.string().check(
  z.trim(),
  z.minLength(1, 'must not be empty'),
  z.maxLength(100, 'must be at most 100 characters'),
  z.refine((name) => !/[\u0000-\u001f\u007f]/.test(name), { message: 'must not contain control characters (newlines, tabs)' }),
);

const keyIdSchema = z.string().check(z.trim(), z.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a key id as shown by `tenantctl keys list` (a UUID)'));

/** Creates a key; the result holds the whole key, which is never shown or stored again. */
export async function keysCreate(ctx: Context, input: { id: unknown; name?: unknown }): Promise<CreatedApiKey> {
  const id = parseTenantId(input.id);
  const name = parseOrUsage(apiKeyNameSchema, input.name ?? 'default', 'key name');
  return createApiKey(await ctx.adminDb(), id, name);
}

export async function keysList(ctx: Context, input: { id: unknown }): Promise<KeysListResult> {
  const id = parseTenantId(input.id);
  return { customerId: id, keys: await listApiKeys(await ctx.adminDb(), id) };
}

export async function keysRevoke(ctx: Context, input: { id: unknown; keyId: unknown }): Promise<RevokedApiKey> {
  const id = parseTenantId(input.id);
  const keyId = parseOrUsage(keyIdSchema, input.keyId, 'key id').toLowerCase();
  return revokeApiKey(await ctx.adminDb(), id, keyId);
}
