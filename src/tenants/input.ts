import * as z from 'zod/mini';
import '../common/zod.js';
import { usageError } from '../common/errors.js';
import { planNames, type Plan } from '../templates/plans.js';

// Names that would collide with tenantctl's own objects or read as something else to an operator.
export const reservedTenantIds = new Set([
  'admin', 'api', 'app', 'www', 'root', 'system', 'default', 'docker', 'tenantctl', 'localhost',
  'postgres', 'redis', 'db', 'worker', 'test', 'all', 'none', 'null', 'undefined',
]);

/** A tenant id is a lowercase DNS label: it ends up in project, network, volume and host names. */
export const tenantIdSchema = z.string().check(
  z.minLength(1, 'must not be empty'),
  z.maxLength(40, 'must be at most 40 characters'),
  z.regex(/^[a-z]/, 'must start with a lowercase letter'),
  z.regex(/^[a-z0-9-]+$/, 'may contain only lowercase letters, digits and dashes'),
  z.regex(/[^-]$/, 'must not end with a dash'),
  z.refine((id) => !reservedTenantIds.has(id), { message: 'is a reserved word' }),
);

export const tenantNameSchema = z.string().check(
  z.trim(),
  z.minLength(1, 'must not be empty'),
  z.maxLength(200, 'must be at most 200 characters'),
  // Control characters have no business in a display name and would garble tables and logs.
  z.refine((name) => !/[\u0000-\u001f\u007f]/.test(name), { message: 'must not contain control characters (newlines, tabs)' }),
);

export const planSchema = z.enum(planNames);
export type { Plan };

export const portOverrideSchema = z.pipe(
  z.coerce.number(),
  z.int().check(z.gte(1024, 'must be 1024 or higher'), z.lte(65535, 'must be at most 65535')),
);

/** Parses one value or throws a usage error naming the field: `tenant id "ACME": must start ...`. */
export function parseOrUsage<T>(schema: z.ZodMiniType<T>, value: unknown, label: string): T {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : String(value);
  throw usageError(`${label} ${shown}: ${result.error.issues.map((i) => i.message).join('; ')}`);
}

export const parseTenantId = (value: unknown) => parseOrUsage(tenantIdSchema, value, 'tenant id');
