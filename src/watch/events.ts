import type { Context } from '../context.js';
import { usageError } from '../common/errors.js';
import { parseTenantId } from '../tenants/input.js';
import { parseSince } from '../audit/since.js';

// `tenantctl events [<id>] [--since] [--limit]`: what the watch saw, newest first.

export interface TenantEvent {
  id: string;
  tenant: string | null;
  host: string;
  kind: string;
  from: string | null;
  to: string | null;
  detail: Record<string, unknown>;
  at: string;
}

export async function events(ctx: Context, input: { id?: unknown; since?: string; limit?: string }): Promise<TenantEvent[]> {
  const tenant = input.id === undefined ? undefined : parseTenantId(input.id);
  const since = input.since === undefined ? undefined : parseSince(input.since, ctx.clock.now());
  const limit = input.limit === undefined ? 50 : Number(input.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw usageError('--limit must be a whole number from 1 to 10000');
  const db = await ctx.adminDb();
  const where: string[] = [];
  const params: unknown[] = [];
  if (tenant) {
    params.push(tenant);
    where.push(`customer_id = $${params.length}`);
  }
  if (since) {
    params.push(since);
    where.push(`created_at >= $${params.length}`);
  }
  params.push(limit);
  const { rows } = await db.pool.query(
    `SELECT * FROM admin_tenant_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  ).catch(db.unreachable);
  return rows.map((r) => ({
    id: String(r.id), tenant: r.customer_id, host: r.host, kind: r.kind, from: r.from_state, to: r.to_state, detail: r.detail, at: new Date(r.created_at).toISOString(),
  }));
}
