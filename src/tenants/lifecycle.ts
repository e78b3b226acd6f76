import type { Context } from '../context.js';
import { BatchFailure, TenantctlError, usageError } from '../common/errors.js';
import { composeStartTimeoutMs, composeStopTimeoutMs } from '../common/timeouts.js';
import { onContainers, runtimeFor } from '../runtime/runtime-for.js';
import { managedContainers } from '../engine/docker.js';
import { recordAudit } from '../audit/write.js';
import { parseTenantId } from './input.js';
import { TenantRegistry, type TenantStatus } from './registry.js';
import { requireComposeFile, requireTenantFor, servicesOf, tenantNamedSecretsFor, type Day2Target } from './day2-target.js';
import { readyTargetOf, waitForTenantReady } from './wait-ready.js';
import { loadTenantTemplate } from './tenant-template.js';
import { runBatch, type BatchItem } from './batch.js';
import { holdTenant } from './hold.js';

// stop, start, restart: a tenant's containers stopped and started again, never removed, so its
// data, ports, subnet and files stay as they are. Each change is in the registry (stopped / active)
// with its audit row; start and restart wait for provision's own readiness.

export type LifecycleVerb = 'stop' | 'start' | 'restart';

export interface LifecycleResult {
  id: string;
  verb: LifecycleVerb;
  /** stopped / started / restarted: done now; already-stopped / already-running: nothing to do. */
  outcome: 'stopped' | 'already-stopped' | 'started' | 'already-running' | 'restarted';
  /** The registry status afterwards. */
  status: TenantStatus;
  /** The services acted on. */
  services: string[];
  url: string | null;
  durationMs: number;
}

export interface LifecycleBatchResult {
  kind: 'batch';
  verb: LifecycleVerb;
  tenants: BatchItem<LifecycleResult>[];
  summary: { total: number; ok: number; failed: number; durationMs: number };
}


export async function stopTenant(ctx: Context, rawId: unknown): Promise<LifecycleResult> {
  return locked(ctx, rawId, 'stop', ['active', 'stopped'], async (t, rendered, started) => {
    const services = servicesOf(rendered, t.record.profiles);
    const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
    ctx.reporter.step(`stopping ${t.record.composeProject} (${runtime.kind === 'swarm' ? 'its services scaled to 0; volumes are kept' : 'containers are kept'})`);
    await runtime.stop(undefined, { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
    const wasStopped = t.record.status === 'stopped';
    if (!wasStopped) await new TenantRegistry(await ctx.adminDb()).markStopped(t.record.id);
    return result(ctx, t, 'stop', wasStopped ? 'already-stopped' : 'stopped', 'stopped', services, started);
  });
}

/**
 * Starts a stopped tenant's containers and waits until it is ready. An active tenant is started
 * too when some of its containers are not running (drift: stopped by hand, or crashed), so `start`
 * is also how to bring an active tenant back in line.
 */
export async function startTenant(ctx: Context, rawId: unknown): Promise<LifecycleResult> {
  return locked(ctx, rawId, 'start', ['stopped', 'active'], async (t, rendered, started) => {
    const services = servicesOf(rendered, t.record.profiles);
    const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
    const containers = await managedContainers(runtime.containers, { project: t.record.composeProject, signal: ctx.signal });
    // compose start starts existing containers only (a swarm makes new tasks: nothing to miss).
    const missing = runtime.kind === 'compose' ? services.filter((s) => !containers.some((c) => c.service === s)) : [];
    if (missing.length > 0) {
      throw new TenantctlError('conflict', `${t.record.id} has no container for ${missing.join(', ')} (removed outside tenantctl); start only starts existing containers: deprovision and provision it again, or run compose up from ${t.paths.dir}/`);
    }
    // A service runs when one of its containers does (a swarm keeps its ended tasks' beside it).
    const allRunning = services.every((s) => containers.some((c) => c.service === s && c.state === 'running'));
    const db = await ctx.adminDb();
    const template = await loadTenantTemplate(ctx, t.record);
    const secrets = await tenantNamedSecretsFor(ctx, db, t, Object.keys(template.block.secrets));
    if (!(t.record.status === 'active' && allRunning)) {
      ctx.reporter.step(`starting ${t.record.composeProject}`);
      await runtime.start(undefined, { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
    }
    ctx.reporter.step('waiting until every service is ready');
    await waitForTenantReady(onContainers(ctx, runtime), await readyTargetOf(ctx, t.record, rendered, secrets));
    if (t.record.status === 'active' && allRunning) return result(ctx, t, 'start', 'already-running', 'active', services, started);
    await new TenantRegistry(db).markStarted(t.record.id, 'tenant.started');
    return result(ctx, t, 'start', 'started', 'active', services, started);
  });
}

/** Restarts an active tenant's containers (all, or the given services) and waits until it is ready. */
export async function restartTenant(ctx: Context, rawId: unknown, { services: only = [] }: { services?: string[] } = {}): Promise<LifecycleResult> {
  return locked(ctx, rawId, 'restart', ['active'], async (t, rendered, started) => {
    const all = servicesOf(rendered, t.record.profiles);
    const unknown = only.filter((s) => !all.includes(s));
    if (unknown.length > 0) throw usageError(`${t.record.id} has no service ${unknown.join(', ')}; its services are ${all.join(', ')}`);
    const services = only.length > 0 ? [...new Set(only)] : all;
    const db = await ctx.adminDb();
    const template = await loadTenantTemplate(ctx, t.record);
    const secrets = await tenantNamedSecretsFor(ctx, db, t, Object.keys(template.block.secrets));
    ctx.reporter.step(`restarting ${only.length > 0 ? services.join(', ') : 'every service'} of ${t.record.composeProject}`);
    const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
    await runtime.restart(only.length > 0 ? services : undefined, { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
    ctx.reporter.step('waiting until every service is ready');
    await waitForTenantReady(onContainers(ctx, runtime), await readyTargetOf(ctx, t.record, rendered, secrets));
    await db.withTransaction(async (client) => {
      // The row is locked like a status change's, so the audit row sits in the tenant's history in order.
      const { rows } = await client.query('SELECT status FROM admin_customers WHERE id = $1 FOR UPDATE', [t.record.id]);
      await recordAudit(db, client, t.record.id, 'tenant.restarted', { status: rows[0]?.status ?? null }, { status: 'active', services });
    });
    return result(ctx, t, 'restart', 'restarted', 'active', services, started);
  });
}

/** Runs the verb for each id in turn (every id checked first); several ids give a batch result, exit 9 if any failed. */
export async function lifecycleBatch(
  ctx: Context,
  verb: LifecycleVerb,
  ids: string[],
  one: (ctx: Context, id: string) => Promise<LifecycleResult>,
): Promise<LifecycleBatchResult> {
  const started = ctx.clock.now();
  if (ids.length === 0) throw usageError('give at least one tenant id');
  ids.forEach((id) => parseTenantId(id));
  if (new Set(ids).size !== ids.length) throw usageError('a tenant id is given twice');
  await ctx.adminDb();
  const items = await runBatch(ids, 1, (id) => one(ctx, id), ctx.signal);
  const failed = items.filter((i) => !i.ok).length;
  const result: LifecycleBatchResult = { kind: 'batch', verb, tenants: items, summary: { total: items.length, ok: items.length - failed, failed, durationMs: ctx.clock.now() - started } };
  if (failed > 0) {
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', `interrupted: ${failed} of ${items.length} tenants not done`);
    throw new BatchFailure(result, `${failed} of ${items.length} tenants failed to ${verb}; the others are done`);
  }
  return result;
}

async function locked(
  ctx: Context, rawId: unknown, verb: LifecycleVerb, allowed: TenantStatus[],
  work: (t: Day2Target, rendered: string, started: number) => Promise<LifecycleResult>,
): Promise<LifecycleResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(rawId);
  const unlock = await holdTenant(ctx, id);
  try {
    // Read under the lock: a provision or deprovision that just finished has its final status.
    const t = await requireTenantFor(ctx, id, verb, allowed);
    return await work(t, await requireComposeFile(t), started);
  } finally {
    await unlock();
  }
}

function result(ctx: Context, t: Day2Target, verb: LifecycleVerb, outcome: LifecycleResult['outcome'], status: TenantStatus, services: string[], started: number): LifecycleResult {
  return { id: t.record.id, verb, outcome, status, services, url: t.record.appUrl, durationMs: ctx.clock.now() - started };
}
