import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { configuredTemplate } from '../templates/configured.js';
import type { Template } from '../templates/template.js';
import type { TenantRecord } from './registry.js';

// A tenant's template, and what commands built for crm's shape need from it.

/** The template a tenant on record was made from, as configured now. */
export async function loadTenantTemplate(ctx: Context, record: Pick<TenantRecord, 'id' | 'template'>): Promise<Template> {
  try {
    return await configuredTemplate(ctx.config, record.template);
  } catch (error) {
    if (error instanceof TenantctlError) throw new TenantctlError(error.kind, `tenant ${record.id} was made from template ${record.template}, which cannot be loaded now: ${error.message}`, { cause: error, details: error.details });
    throw new TenantctlError('usage', `tenant ${record.id}: template ${record.template}: ${messageOf(error)}`, { cause: error });
  }
}

/** crm's shape: what backup, restore, rotate-secrets and upgrade are written for. */
export const crmShape = { ports: ['app', 'db', 'redis'], secrets: ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'], migrations: true } as const;

/**
 * Refuses (exit 2, one line naming what is missing) a command the tenant's template cannot serve,
 * instead of letting it fail half-way on a port or a secret that is not there.
 */
export function requireShape(template: Template, id: string, verb: string, needs: { ports?: readonly string[]; secrets?: readonly string[]; migrations?: boolean; redis?: boolean }): void {
  const missing: string[] = [];
  for (const port of needs.ports ?? []) if (!(port in template.block.ports)) missing.push(`port ${port}`);
  for (const secret of needs.secrets ?? []) if (!(secret in template.block.secrets)) missing.push(`secret ${secret}`);
  if (needs.migrations && !template.block.migrations) missing.push('a migrations target (x-tenantctl.migrations)');
  if (needs.redis && redisCheckOf(template) === undefined) missing.push('a service with redis readiness');
  if (missing.length > 0) throw new TenantctlError('usage', `${id} cannot ${verb}: its template ${template.name} has no ${missing.join(', ')}`);
}

/**
 * The tenants of `records` whose template has crm's shape: what `--all` of a command written for
 * it takes (another template's tenant is left out, not failed). A template that cannot be loaded
 * keeps its tenant in, so the command says why.
 */
export async function crmShaped<T extends Pick<TenantRecord, 'id' | 'template'>>(ctx: Context, records: T[]): Promise<T[]> {
  const verdicts = await Promise.all(records.map(async (record) => {
    try {
      requireShape(await loadTenantTemplate(ctx, record), record.id, 'be changed', crmShape);
      return true;
    } catch (error) {
      return !(error instanceof TenantctlError && / its template \S+ has no /.test(error.message));
    }
  }));
  return records.filter((_, i) => verdicts[i]);
}

/** The template's Redis, as its readiness declares it (service, port, password secret). */
export function redisCheckOf(template: Template): { service: string; port: string; passwordSecret: string } | undefined {
  for (const [service, check] of Object.entries(template.block.readiness)) {
    if ('redis' in check && !check.redis.key) return { service, port: check.redis.port, passwordSecret: check.redis.passwordSecret };
  }
  return undefined;
}
