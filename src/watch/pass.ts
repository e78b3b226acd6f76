import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { raiseAlertIn } from '../alerts/raise.js';
import { judge, transitionEvent, type TenantHealthState } from './classify.js';
import { probeHost } from './probe.js';
import { forgetUnwatched, hostReachable, recordEvent, saveHealth, saveHostHealth, stillWatched, touchHealth, watchedTenants, type WatchedTenant } from './store.js';
import { autoRestartDue } from './auto-restart.js';

// One watch pass over this host's tenants: the engine asked once, each active tenant judged
// (classify.ts), each change recorded as an event with its alert in one transaction, then the
// crashed stacks whose plan says so restarted (auto-restart.ts).

export interface PassChange {
  tenant: string;
  from: TenantHealthState | null;
  to: TenantHealthState;
  event: string | null;
  reasons: string[];
}

export interface PassResult {
  host: string;
  reachable: boolean;
  error?: string;
  tenants: number;
  busy: string[];
  states: Record<TenantHealthState, number>;
  changes: PassChange[];
  restarts: Array<{ tenant: string; outcome: 'restarted' | 'failed'; error?: string }>;
  durationMs: number;
}

export async function watchPass(ctx: Context, signal: AbortSignal): Promise<PassResult> {
  const started = ctx.clock.now();
  const host = ctx.dockerHost;
  const db = await ctx.adminDb();
  const intervalSeconds = ctx.config.watch.intervalSeconds;
  // Asked while the registry is read: the engine and the database answer at the same time.
  const probing = probeHost(host, { signal, recentSeconds: Math.max(2 * intervalSeconds, 30) }).then(
    (projects) => ({ projects }),
    (error: unknown) => ({ error: messageOf(error) }),
  );
  const [tenants, probed, wasReachable] = await Promise.all([watchedTenants(db, host.id), probing, hostReachable(db, host.id)]);
  await ctx.pause('watch:probed');
  const now = new Date(ctx.clock.now());
  const result: PassResult = { host: host.id, reachable: !('error' in probed), tenants: tenants.length, busy: [], states: { ready: 0, degraded: 0, down: 0 }, changes: [], restarts: [], durationMs: 0 };

  if ('error' in probed) {
    if (signal.aborted) throw new TenantctlError('interrupted', 'the watch pass was interrupted');
    result.error = probed.error;
    // One event and alert when the host stops answering, not one per tenant: its tenants keep their last state.
    await db.withTransaction(async (client) => {
      await saveHostHealth(client, host.id, false, probed.error);
      if (wasReachable !== false) {
        await recordEvent(client, { tenant: null, host: host.id, kind: 'host.unreachable', detail: { error: probed.error, tenants: tenants.length } });
        await raiseAlertIn(client, { kind: 'host.unreachable', host: host.id, summary: `Docker host ${host.id} does not answer: ${probed.error}`, detail: { error: probed.error, tenants: tenants.length } }, now);
      }
    });
    result.durationMs = ctx.clock.now() - started;
    return result;
  }
  if (wasReachable !== true) {
    await db.withTransaction(async (client) => {
      await saveHostHealth(client, host.id, true, null);
      if (wasReachable === false) {
        await recordEvent(client, { tenant: null, host: host.id, kind: 'host.reachable' });
        await raiseAlertIn(client, { kind: 'host.reachable', host: host.id, summary: `Docker host ${host.id} answers again` }, now);
      }
    });
  }

  const unchanged: string[] = [];
  const down: WatchedTenant[] = [];
  for (const t of tenants) {
    // A verb holding the tenant (restart, upgrade, move...) stops and starts its containers on purpose.
    if (t.busy) {
      result.busy.push(t.id);
      continue;
    }
    const verdict = judge(probed.projects.get(t.composeProject) ?? [], t.health?.services ?? [], t.health?.checkedAt);
    result.states[verdict.state] += 1;
    const from = t.health?.state;
    const event = transitionEvent(from, verdict.state);
    // The services to expect: those seen running while ready; kept while not ready, so a gone one stays missed.
    const services = verdict.state === 'ready' ? verdict.services : [...new Set([...(t.health?.services ?? []), ...verdict.services])].sort();
    if (from === verdict.state && services.join() === (t.health?.services ?? []).join()) {
      unchanged.push(t.id);
      if (verdict.state === 'down') down.push(t);
      continue;
    }
    const recorded = await db.withTransaction(async (client) => {
      if (!(await stillWatched(client, t.id, host.id))) return false;
      await saveHealth(client, { id: t.id, state: verdict.state, changed: from !== verdict.state, services, detail: { reasons: verdict.reasons } });
      if (!event) return true;
      const detail = { from: from ?? null, to: verdict.state, reasons: verdict.reasons, plan: t.plan };
      await recordEvent(client, { tenant: t.id, host: host.id, kind: event, from: from ?? null, to: verdict.state, detail });
      // Every transition is raised; each endpoint's filter decides what it wants (alerts add --events).
      await raiseAlertIn(client, { kind: event, tenant: t.id, host: host.id, summary: summaryOf(t.id, event, verdict.reasons), detail }, now);
      return true;
    });
    if (!recorded) {
      result.busy.push(t.id);
      result.states[verdict.state] -= 1;
      continue;
    }
    if (verdict.state === 'down') down.push(t);
    result.changes.push({ tenant: t.id, from: from ?? null, to: verdict.state, event: event ?? null, reasons: verdict.reasons });
  }
  await touchHealth(db, unchanged);
  await forgetUnwatched(db);
  result.restarts = await autoRestartDue(ctx, signal, down);
  result.durationMs = ctx.clock.now() - started;
  return result;
}

function summaryOf(tenant: string, event: string, reasons: string[]): string {
  if (event === 'tenant.recovered') return `${tenant} is ready again`;
  return `${tenant} is ${event === 'tenant.down' ? 'down' : 'degraded'}: ${reasons.join('; ')}`;
}
