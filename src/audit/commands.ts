import * as z from 'zod/mini';
import '../common/zod.js';
import type { Context } from '../context.js';
import { parseOrUsage, parseTenantId } from '../tenants/input.js';
import { parseSince } from './since.js';
import { auditLog, type AuditEntry } from './read.js';

export const defaultAuditLimit = 50;

const limitSchema = z.pipe(
  z.pipe(z.string().check(z.trim(), z.regex(/^\d+$/, 'must be a whole number')), z.transform(Number)),
  z.number().check(z.gte(1, 'must be at least 1'), z.lte(10_000, 'must be at most 10000')),
);

/** The audit log, newest first: all tenants or one, optionally from `since` on, at most `limit` entries. */
export async function audit(ctx: Context, input: { id?: unknown; since?: string; limit?: string }): Promise<AuditEntry[]> {
  const customerId = input.id === undefined ? undefined : parseTenantId(input.id);
  const since = input.since === undefined ? undefined : parseSince(input.since, ctx.clock.now());
  const limit = input.limit === undefined ? defaultAuditLimit : parseOrUsage(limitSchema, input.limit, '--limit');
  return auditLog(await ctx.adminDb(), { customerId, since, limit });
}
