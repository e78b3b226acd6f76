import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { raiseAlertIn } from '../alerts/raise.js';
import { pickRestart, restartDelayMs } from './classify.js';
import { recordEvent, recordRestartAttempt, type WatchedTenant } from './store.js';

// A crashed stack restarted by the watch when its plan says so (plans.<plan>.autoRestart, off by
// default), with the restart verb itself (lock, readiness, audit row). At most one per pass: a
// restart waits up to the readiness deadline, and a pass must not wait that long once per down
// tenant. Each attempt moves the next one further off (watch.restartBackoffSeconds, doubled,
// capped by watch.restartBackoffMaxSeconds); after watch.restartMaxAttempts the watch stops
// trying (the last failure's event and alert say so). Being ready again resets it (store.ts saveHealth).

export type RestartOutcome = { tenant: string; outcome: 'restarted' | 'failed'; error?: string };

export async function autoRestartDue(ctx: Context, signal: AbortSignal, down: WatchedTenant[]): Promise<RestartOutcome[]> {
  const plans = ctx.config.plans as Record<string, { autoRestart?: boolean } | undefined>;
  const { watch } = ctx.config;
  const autoPlans = new Set(Object.entries(plans).filter(([, p]) => p?.autoRestart === true).map(([name]) => name));
  const candidates = down.map((t) => ({ id: t.id, plan: t.plan, restartAttempts: t.health?.restartAttempts ?? 0, nextRestartAt: t.health?.nextRestartAt ?? null }));
  const t = pickRestart(candidates, autoPlans, ctx.clock.now(), watch.restartMaxAttempts);
  if (!t || signal.aborted) return [];
  const db = await ctx.adminDb();
  const attempts = t.restartAttempts + 1;
  // Taken before the attempt (compare-and-set on the count: a second watcher does not restart it
  // too), and the next one set: a watch killed during it does not retry at once when it is back.
  const nextAt = new Date(ctx.clock.now() + restartDelayMs(attempts - 1, watch.restartBackoffSeconds * 1000, watch.restartBackoffMaxSeconds * 1000));
  if (!(await recordRestartAttempt(db, t.id, t.restartAttempts, nextAt))) return [];
  const { restartTenant } = await import('../tenants/lifecycle.js');
  try {
    await restartTenant({ ...ctx, signal: AbortSignal.any([ctx.signal, signal]) }, t.id);
    await db.withTransaction((client) => recordEvent(client, { tenant: t.id, host: ctx.dockerHost.id, kind: 'tenant.restarted', detail: { attempt: attempts, by: 'watch' } }));
    return [{ tenant: t.id, outcome: 'restarted' }];
  } catch (error) {
    const why = messageOf(error);
    const last = attempts >= watch.restartMaxAttempts;
    await db.withTransaction(async (client) => {
      const detail = { attempt: attempts, error: why, ...(last ? { gaveUp: true } : { nextAttemptAt: nextAt.toISOString() }) };
      await recordEvent(client, { tenant: t.id, host: ctx.dockerHost.id, kind: 'tenant.restart-failed', detail });
      const summary = `automatic restart of ${t.id} failed (attempt ${attempts} of ${watch.restartMaxAttempts}${last ? '; no more automatic restarts until it is ready again' : ''}): ${why}`;
      await raiseAlertIn(client, { kind: 'tenant.restart-failed', tenant: t.id, host: ctx.dockerHost.id, summary, detail }, new Date(ctx.clock.now()));
    });
    return [{ tenant: t.id, outcome: 'failed', error: why }];
  }
}
