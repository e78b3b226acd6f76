import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { configuredTemplate } from '../templates/configured.js';
import type { Template } from '../templates/template.js';
import type { TenantRecord } from './registry.js';

// A tenant's template, and what commands read of it.

/** The template a tenant on record was made from, as configured now. */
export async function loadTenantTemplate(ctx: Context, record: Pick<TenantRecord, 'id' | 'template'>): Promise<Template> {
  try {
    return await configuredTemplate(ctx.config, record.template);
  } catch (error) {
    if (error instanceof TenantctlError) throw new TenantctlError(error.kind, `tenant ${record.id} was made from template ${record.template}, which cannot be loaded now: ${error.message}`, { cause: error, details: error.details });
    throw new TenantctlError('usage', `tenant ${record.id}: template ${record.template}: ${messageOf(error)}`, { cause: error });
  }
}

/** The template's Redis, as its readiness declares it (service, port, password secret). */
export function redisCheckOf(template: Template): { service: string; port: string; passwordSecret: string } | undefined {
  for (const [service, check] of Object.entries(template.block.readiness)) {
    if ('redis' in check && !check.redis.key) return { service, port: check.redis.port, passwordSecret: check.redis.passwordSecret };
  }
  return undefined;
}
