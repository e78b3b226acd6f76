import * as z from 'zod/mini';
import '../zod.js';
import type { Context } from '../context.js';
import { TenantctlError } from '../errors.js';
import { parseOrUsage, parseTenantId } from '../tenant/input.js';
import { listModules, mrr, setModule, type CustomerModule, type FeatureModule, type ModuleChange } from '../db/control-plane.js';

export type ModulesListResult =
  | { customerId: null; modules: FeatureModule[] }
  | {
      customerId: string;
      status: string;
      modules: CustomerModule[];
      /** USD per month from admin_customer_mrr; null when the tenant is not active (not billed). */
      mrr: number | null;
    };

export interface ModuleChangeResult extends ModuleChange {
  /** The tenant's MRR after the change; null when it is not active. */
  mrr: number | null;
}

// The membership check is the database's (the catalogue lives there); this only refuses what
// cannot be a key before anything is opened.
const moduleKeySchema = z.string().check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(63, 'must be at most 63 characters'));

/** The catalogue, or with a tenant id each module's state for that tenant and its MRR. */
export async function modulesList(ctx: Context, input: { id?: unknown }): Promise<ModulesListResult> {
  const id = input.id === undefined ? undefined : parseTenantId(input.id);
  const registry = await ctx.registry();
  if (id === undefined) return { customerId: null, modules: await listModules(registry) };
  const tenant = await registry.get(id);
  if (!tenant) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  const modules = await listModules(registry, id);
  const [billed] = await mrr(registry, id);
  return { customerId: id, status: tenant.status, modules, mrr: billed?.mrr ?? null };
}

export async function modulesSet(ctx: Context, input: { id: unknown; module: unknown; enabled: boolean }): Promise<ModuleChangeResult> {
  const id = parseTenantId(input.id);
  const moduleKey = parseOrUsage(moduleKeySchema, input.module, 'module');
  const registry = await ctx.registry();
  const change = await setModule(registry, id, moduleKey, input.enabled);
  const [billed] = await mrr(registry, id);
  return { ...change, mrr: billed?.mrr ?? null };
}
