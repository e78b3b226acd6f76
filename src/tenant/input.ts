import { z } from 'zod';
import { usageError } from '../errors.js';

// Names that would collide with tenantctl's own objects or read as something else to an operator.
export const reservedTenantIds = new Set([
  'admin', 'api', 'app', 'www', 'root', 'system', 'default', 'docker', 'tenantctl', 'localhost',
  'postgres', 'redis', 'db', 'worker', 'test', 'all', 'none', 'null', 'undefined',
]);

/** A tenant id is a lowercase DNS label: it ends up in project, network, volume and host names. */
export const tenantIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(40, 'must be at most 40 characters')
  .regex(/^[a-z]/, 'must start with a lowercase letter')
  .regex(/^[a-z0-9-]+$/, 'may contain only lowercase letters, digits and dashes')
  .regex(/[^-]$/, 'must not end with a dash')
  .refine((id) => !reservedTenantIds.has(id), { message: 'is a reserved word' });

export const tenantNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  // Control characters have no business in a display name and would garble tables and logs.
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), { message: 'must not contain control characters (newlines, tabs)' });

export const planSchema = z.enum(['starter', 'standard', 'enterprise']);
export type Plan = z.infer<typeof planSchema>;

export const portOverrideSchema = z.coerce.number().int().min(1024, 'must be 1024 or higher').max(65535, 'must be at most 65535');

/** Parses one value or throws a usage error naming the field: `tenant id "ACME": must start ...`. */
export function parseOrUsage<T>(schema: z.ZodType<T>, value: unknown, label: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value) : String(value);
  throw usageError(`${label} ${shown}: ${result.error.issues.map((i) => i.message).join('; ')}`);
}

export const parseTenantId = (value: unknown) => parseOrUsage(tenantIdSchema, value, 'tenant id');
