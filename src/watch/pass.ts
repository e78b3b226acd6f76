import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { raiseAlertIn } from '../alerts/raise.js';
import { confirmState, crashQuietSeconds, judge, transitionEvent, type TenantHealthState } from './classify.js';
import { expectedServices } from './expected.js';
import { probeHost } from './probe.js';
import { forgetUnwatched, hostHealth, recordEvent, saveHealth, saveHostHealth, stillWatched, touchHealth, watchedTenants, type HostHealth, type WatchedTenant } from './store.js';
import { autoRestartDue } from './auto-restart.js';

// One watch pass over this host's tenants: the engine asked once, each active tenant judged
// (classify.ts) against the services its compose file declares, a new state recorded only after
// watch.confirmPasses passes in a row saw it, each recorded change written as an event with its
// alert in one transaction (compare-and-set: a second watcher records nothing twice), then at most
// one crashed stack whose plan says so restarted (auto-restart.ts).

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
  /** What each judged tenant looked like this pass (recorded or still pending confirmation). */
  states: Record<TenantHealthState, number>;
  /** Tenants whose seen state differs from the recorded one and awaits more passes. */
  pending: Array<{ tenant: string; state: TenantHealthState; passes: number }>;
  changes: PassChange[];
  restarts: Array<{ tenant: string; outcome: 'restarted' | 'failed'; error?: string }>;
  durationMs: number;
}

export async function watchPass(ctx: Context, signal: AbortSignal): Promise<PassResult> {
  const started = ctx.clock.now();
  const host = ctx.dockerHost;
  const db = await ctx.adminDb();
  const { intervalSeconds, confirmPasses } = ctx.config.watch;
  // Asked while the registry is read: the engine and the database answer at the same time.
  const probing = probeHost(host, { signal, recentSeconds: Math.max(2 * intervalSeconds, crashQuietSeconds) }).then(
    (projects) => ({ projects }),
    (error: unknown) => ({ error: messageOf(error) }),
  );
  const [tenants, probed, wasHost] = await Promise.all([watchedTenants(db, host.id), probing, hostHealth(db, host.id)]);
  await ctx.pause('watch:probed');
  const now = new Date(ctx.clock.now());
  const result: PassResult = {
    host: host.id, reachable: !('error' in probed), tenants: tenants.length, busy: [], states: { ready: 0, degraded: 0, down: 0 }, pending: [], changes: [], restarts: [], durationMs: 0,
  };
  if ('error' in probed && signal.aborted) throw new TenantctlError('interrupted', 'the watch pass was interrupted');

  await recordHost(ctx, tenants.length, wasHost, 'error' in probed ? probed.error : null, confirmPasses, now);
  if ('error' in probed) {
    // Its tenants keep their last state: one event for the host, not one per tenant.
    result.error = probed.error;
    result.durationMs = ctx.clock.now() - started;
    return result;
  }

  const unchanged: string[] = [];
  const down: WatchedTenant[] = [];
  const restartedAfter = ctx.clock.now() - crashQuietSeconds * 1000;
  for (const t of tenants) {
    // A verb holding the tenant (restart, upgrade, move...) stops and starts its containers on purpose.
    if (t.busy) {
      result.busy.push(t.id);
      continue;
    }
    const expected = (await expectedServices(ctx.config.customersDir, t.id, t.profiles)) ?? [];
    const verdict = judge(probed.projects.get(t.composeProject) ?? [], expected, restartedAfter);
    result.states[verdict.state] += 1;
    const from = t.health;
    const { next, changed } = confirmState(from, verdict.state, confirmPasses);
    if (!changed && from && next.pendingState === from.pendingState && next.pendingPasses === from.pendingPasses && verdict.services.join() === from.services.join()) {
      unchanged.push(t.id);
      if (from.state === 'down') down.push(t);
      continue;
    }
    const event = changed ? transitionEvent(from?.state, next.state) : undefined;
    const recorded = await db.withTransaction(async (client) => {
      if (!(await stillWatched(client, t.id, host.id))) return false;
      // Compare-and-set: if another watcher wrote the row since it was read, this pass records nothing for the tenant.
      if (!(await saveHealth(client, { id: t.id, from, next, changed, services: verdict.services, detail: { reasons: verdict.reasons } }))) return false;
      if (!event) return true;
      const detail = { from: from?.state ?? null, to: next.state, reasons: verdict.reasons, plan: t.plan, passes: confirmPasses };
      await recordEvent(client, { tenant: t.id, host: host.id, kind: event, from: from?.state ?? null, to: next.state, detail });
      // Every transition is raised; each endpoint's filter decides what it wants (alerts add --events).
      await raiseAlertIn(client, { kind: event, tenant: t.id, host: host.id, summary: summaryOf(t.id, event, verdict.reasons), detail }, now);
      return true;
    });
    if (!recorded) {
      result.busy.push(t.id);
      result.states[verdict.state] -= 1;
      continue;
    }
    if (next.pendingState) result.pending.push({ tenant: t.id, state: next.pendingState, passes: next.pendingPasses });
    // A tenant down on record is a restart candidate with the attempt count the row had.
    if (next.state === 'down') down.push({ ...t, health: { ...(from ?? emptyHealth(t.id)), ...next } });
    if (changed) result.changes.push({ tenant: t.id, from: from?.state ?? null, to: next.state, event: event ?? null, reasons: verdict.reasons });
  }
  await touchHealth(db, unchanged);
  await forgetUnwatched(db);
  result.restarts = await autoRestartDue(ctx, signal, down);
  result.durationMs = ctx.clock.now() - started;
  return result;
}

const emptyHealth = (id: string) => ({ customerId: id, state: 'down' as const, pendingState: null, pendingPasses: 0, since: 0, checkedAt: 0, services: [], restartAttempts: 0, nextRestartAt: null });

/**
 * The host's answer recorded (damped as a tenant's: watch.confirmPasses in a row), its event and
 * alert raised once, by the watcher whose compare-and-set wrote the change.
 */
async function recordHost(ctx: Context, tenants: number, was: HostHealth | undefined, error: string | null, confirmPasses: number, now: Date): Promise<'unreachable' | 'reachable' | undefined> {
  const db = await ctx.adminDb();
  const host = ctx.dockerHost.id;
  const seen = error === null ? 'ready' : 'down';
  const { next, changed } = confirmState(was && { state: was.reachable ? 'ready' : 'down', pendingState: was.pendingPasses > 0 ? (was.reachable ? 'down' : 'ready') : null, pendingPasses: was.pendingPasses }, seen, confirmPasses);
  const nextHost: HostHealth = { reachable: next.state === 'ready', pendingPasses: next.pendingPasses };
  return db.withTransaction(async (client) => {
    if (!(await saveHostHealth(client, host, was, nextHost, error))) return undefined;
    if (!changed) return undefined;
    if (!nextHost.reachable) {
      await recordEvent(client, { tenant: null, host, kind: 'host.unreachable', detail: { error, tenants } });
      await raiseAlertIn(client, { kind: 'host.unreachable', host, summary: `Docker host ${host} does not answer: ${error}`, detail: { error, tenants } }, now);
      return 'unreachable';
    }
    // A host first seen answering is no event.
    if (!was) return undefined;
    await recordEvent(client, { tenant: null, host, kind: 'host.reachable' });
    await raiseAlertIn(client, { kind: 'host.reachable', host, summary: `Docker host ${host} answers again` }, now);
    return 'reachable';
  });
}

function summaryOf(tenant: string, event: string, reasons: string[]): string {
  if (event === 'tenant.recovered') return `${tenant} is ready again`;
  return `${tenant} is ${event === 'tenant.down' ? 'down' : 'degraded'}: ${reasons.join('; ')}`;
}
