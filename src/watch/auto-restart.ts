import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { raiseAlertIn } from '../alerts/raise.js';
import { restartDelayMs } from './classify.js';
import { recordEvent, recordRestartAttempt, type WatchedTenant } from './store.js';

// A crashed stack restarted by the watch when its plan says so (plans.<plan>.autoRestart, off by
// default), with the restart verb itself (lock, readiness, audit row), one tenant at a time. Each
// attempt moves the next one further off (watch.restartBackoffSeconds, doubled, capped by
// watch.restartBackoffMaxSeconds); being ready again resets it (store.ts saveHealth).

export async function autoRestartDue(ctx: Context, signal: AbortSignal, down: WatchedTenant[]): Promise<Array<{ tenant: string; outcome: 'restarted' | 'failed'; error?: string }>> {
  const plans = ctx.config.plans as Record<string, { autoRestart?: boolean } | undefined>;
  const due = down.filter((t) => plans[t.plan]?.autoRestart === true && (t.health?.nextRestartAt ?? 0) <= ctx.clock.now());
  if (due.length === 0) return [];
  const { restartTenant } = await import('../tenants/lifecycle.js');
  const db = await ctx.adminDb();
  const { watch } = ctx.config;
  const outcomes: Array<{ tenant: string; outcome: 'restarted' | 'failed'; error?: string }> = [];
  for (const t of due) {
    if (signal.aborted) break;
    const attempts = (t.health?.restartAttempts ?? 0) + 1;
    // Set before the attempt: a watch killed during it does not retry at once when it is back.
    const nextAt = new Date(ctx.clock.now() + restartDelayMs(attempts - 1, watch.restartBackoffSeconds * 1000, watch.restartBackoffMaxSeconds * 1000));
    await recordRestartAttempt(db, t.id, attempts, nextAt);
    try {
      await restartTenant({ ...ctx, signal: AbortSignal.any([ctx.signal, signal]) }, t.id);
      outcomes.push({ tenant: t.id, outcome: 'restarted' });
      await db.withTransaction((client) => recordEvent(client, { tenant: t.id, host: ctx.dockerHost.id, kind: 'tenant.restarted', detail: { attempt: attempts, by: 'watch' } }));
    } catch (error) {
      const why = messageOf(error);
      outcomes.push({ tenant: t.id, outcome: 'failed', error: why });
      await db.withTransaction(async (client) => {
        const detail = { attempt: attempts, error: why, nextAttemptAt: nextAt.toISOString() };
        await recordEvent(client, { tenant: t.id, host: ctx.dockerHost.id, kind: 'tenant.restart-failed', detail });
        await raiseAlertIn(client, { kind: 'tenant.restart-failed', tenant: t.id, host: ctx.dockerHost.id, summary: `automatic restart of ${t.id} failed (attempt ${attempts}): ${why}`, detail }, new Date(ctx.clock.now()));
      });
    }
  }
  return outcomes;
}
