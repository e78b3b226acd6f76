import type { Context } from '../context.js';
import type { Loop } from './loop.js';

// Events, and deliveries that are done (delivered or failed), kept for watch.retentionDays
// (default 30) and then deleted, so the tables do not grow for ever. Pending deliveries are never
// deleted: they are still to be sent. Hourly, in batches, so one tick never holds a long lock.

const batch = 5_000;

export async function pruneOld(ctx: Context): Promise<{ events: number; deliveries: number }> {
  const db = await ctx.adminDb();
  const days = ctx.config.watch.retentionDays;
  const removed = { events: 0, deliveries: 0 };
  for (;;) {
    const { rowCount } = await db.pool.query(
      `DELETE FROM admin_tenant_events WHERE id IN (SELECT id FROM admin_tenant_events WHERE created_at < now() - ($1::float8 * interval '1 day') LIMIT ${batch})`,
      [days],
    ).catch(db.unreachable);
    removed.events += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) break;
  }
  for (;;) {
    // Through the owner's function (migration 032): the agent may not DELETE deliveries itself, so
    // it can never remove a pending alert or a recent delivery that a repeat decision reads.
    const { rows: [{ n }] } = await db.pool.query('SELECT admin_prune_alert_deliveries($1::float8, $2::int) AS n', [days, batch]).catch(db.unreachable);
    removed.deliveries += Number(n);
    if (Number(n) < batch) break;
  }
  return removed;
}

export const retentionLoop: Loop = {
  name: 'retention',
  intervalMs: 3_600_000,
  async tick(ctx) {
    await pruneOld(ctx);
  },
};
