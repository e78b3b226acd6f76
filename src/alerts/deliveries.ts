import type { AdminDb } from '../admin-db/database.js';

// Reading admin_alert_deliveries for `alerts deliveries`.

export interface DeliveryRow {
  id: string;
  endpoint: string;
  event: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  payload: unknown;
}

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());

/** Newest first; `failed`: those that failed for good and those still retrying after a failure. */
export async function listDeliveries(db: AdminDb, input: { failed: boolean; endpoint?: string; limit: number }): Promise<DeliveryRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (input.failed) where.push("(state = 'failed' OR (state = 'pending' AND last_error IS NOT NULL))");
  if (input.endpoint) {
    params.push(input.endpoint);
    where.push(`endpoint_id = $${params.length}`);
  }
  params.push(input.limit);
  const { rows } = await db.pool.query(
    `SELECT * FROM admin_alert_deliveries ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  ).catch(db.unreachable);
  return rows.map((r) => ({
    id: String(r.id), endpoint: r.endpoint_id, event: r.event, state: r.state, attempts: r.attempts,
    nextAttemptAt: iso(r.next_attempt_at), deliveredAt: iso(r.delivered_at), lastStatus: r.last_status, lastError: r.last_error,
    createdAt: iso(r.created_at)!, payload: r.payload,
  }));
}
