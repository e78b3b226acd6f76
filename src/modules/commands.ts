import * as z from 'zod/mini';
import '../common/zod.js';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { parseOrUsage, parseTenantId } from '../tenants/input.js';
import { customerStatus } from '../admin-db/customers.js';
import { listModules, mrr, setModule, type CustomerModule, type FeatureModule, type ModuleChange } from './store.js';

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
  const db = await ctx.adminDb();
  if (id === undefined) return { customerId: null, modules: await listModules(db) };
  const status = await customerStatus(db, id);
  if (!status) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
  const modules = await listModules(db, id);
  const [billed] = await mrr(db, id);
  return { customerId: id, status, modules, mrr: billed?.mrr ?? null };
}

export async function modulesSet(ctx: Context, input: { id: unknown; module: unknown; enabled: boolean }): Promise<ModuleChangeResult> {
  const id = parseTenantId(input.id);
  const moduleKey = parseOrUsage(moduleKeySchema, input.module, 'module');
  const db = await ctx.adminDb();
  const change = await setModule(db, id, moduleKey, input.enabled);
  const [billed] = await mrr(db, id);
  return { ...change, mrr: billed?.mrr ?? null };
}
