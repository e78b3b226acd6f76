import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { composeStartTimeoutMs, composeStopTimeoutMs } from '../common/timeouts.js';
import { LostLockError } from '../admin-db/database.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { onContainers, runtimeFor } from '../runtime/runtime-for.js';
import { parseTenantId } from '../tenants/input.js';
import { holdTenant } from '../tenants/hold.js';
import { TenantRegistry, type Suspension } from '../tenants/registry.js';
import { requireComposeFile, requireTenantFor, tenantNamedSecretsFor, type Day2Target } from '../tenants/day2-target.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { readyTargetOf, waitForTenantReady } from '../tenants/wait-ready.js';

// `tenantctl resume <id>`, under the tenant's lock, journaled:
//   begun    the intent (the suspension it ends) in the journal
//   started  the stack started (compose start, or services scaled back on a swarm)
//   ready    provision's own readiness passed (PostgreSQL login, Redis, /api/ready, the heartbeat)
// then the commit: the row becomes active (the suspension cleared, audited) in the transaction that
// closes the journal; the front door serves the app again only after that (the CLI syncs it when
// the command ends; the gateway passes the tenant's keys once its status reads active). Until the
// commit the tenant stays suspended: a run that fails or is interrupted before it stops the stack
// again (undone); a run killed at 'ready' is committed by the next command (after readiness is
// proven once more).

export interface ResumeResult {
  id: string;
  /** resumed: done now; already-active: it was not suspended (nothing done). */
  outcome: 'resumed' | 'already-active';
  status: 'active';
  /** The suspension it ended. */
  suspension: Suspension | null;
  url: string | null;
  durationMs: number;
}

export interface ResumeIntent {
  suspension: Suspension | null;
}

export async function resumeTenant(ctx: Context, input: { id: unknown }): Promise<ResumeResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(input.id);
  const db = await ctx.adminDb();
  const release = await holdTenant(ctx, id);
  try {
    const t = await requireTenantFor(ctx, id, 'be resumed (only a suspended tenant is)', ['suspended', 'active']);
    if (t.record.status === 'active') return { id, outcome: 'already-active', status: 'active', suspension: null, url: t.record.appUrl, durationMs: ctx.clock.now() - started };
    const journal = new OperationJournal(db);
    const op = await journal.begin<ResumeIntent>({ tenant: id, verb: 'resume', host: ctx.dockerHost.id, data: { suspension: t.record.suspension } });
    try {
      await ctx.pause('resume:begun');
      ctx.reporter.step(`starting ${t.record.composeProject}`);
      const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
      await runtime.start(undefined, { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
      await journal.step(op, 'started');
      await ctx.pause('resume:started');
      await proveReady(ctx, t);
      await journal.step(op, 'ready');
      await ctx.pause('resume:ready');
      await commitResume(journal, op);
    } catch (error) {
      throw await settleAfterFailure(ctx, journal, op, error);
    }
    return { id, outcome: 'resumed', status: 'active', suspension: op.data.suspension, url: t.record.appUrl, durationMs: ctx.clock.now() - started };
  } finally {
    await release();
  }
}

async function proveReady(ctx: Context, t: Day2Target): Promise<void> {
  ctx.reporter.step('waiting until every service is ready');
  const rendered = await requireComposeFile(t);
  const template = await loadTenantTemplate(ctx, t.record);
  const secrets = await tenantNamedSecretsFor(ctx, await ctx.adminDb(), t, Object.keys(template.block.secrets));
  const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
  await waitForTenantReady(onContainers(ctx, runtime), await readyTargetOf(ctx, t.record, rendered, secrets));
}

/** The stack is proven ready: active again, in the transaction that closes the journal. */
async function commitResume(journal: OperationJournal, op: Operation<ResumeIntent>): Promise<void> {
  await journal.finish(op, 'completed', null, (client) => new TenantRegistry(journal.db).markResumed(client, op.tenant));
}

/** The stack stopped again; the tenant was never anything but suspended. */
async function undoResume(ctx: Context, journal: OperationJournal, op: Operation<ResumeIntent>, reason: string): Promise<void> {
  const t = await requireTenantFor(ctx, op.tenant, 'have its interrupted resume undone', ['suspended']);
  ctx.reporter.step(`stopping ${t.record.composeProject} again: ${op.tenant} stays suspended`);
  const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
  await runtime.stop(undefined, { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
  await journal.finish(op, 'undone', reason);
}

async function settleAfterFailure(ctx: Context, journal: OperationJournal, op: Operation<ResumeIntent>, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  if (first instanceof LostLockError || (await journal.db.locksProven())) {
    first.details.push(`the resume stopped at step ${op.step}; the next command on ${op.tenant} finishes or undoes it from its journal`);
    return first;
  }
  const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
  try {
    // A failing run never commits: it stopped before the proof, or the commit itself failed.
    await undoResume(quiet, journal, op, first.message);
    first.details.push(`${op.tenant} stays suspended: its stack was stopped again (run tenantctl resume ${op.tenant} again)`);
  } catch (problem) {
    first.details.push(`stopping its stack again failed too: ${messageOf(problem)}; ${op.tenant} is still suspended, and the next command on it settles the resume (step ${op.step})`);
  }
  return first;
}

/** Settles a resume a killed run left: committed when it was proven ready (and still is), else undone. */
export async function resumeResume(ctx: Context, op: Operation<ResumeIntent>, reason = `interrupted at step ${op.step}; undone by a later command`): Promise<'finished' | 'undone'> {
  const journal = new OperationJournal(await ctx.adminDb());
  if (op.step === 'ready') {
    const t = await requireTenantFor(ctx, op.tenant, 'have its resume finished', ['suspended']);
    try {
      await proveReady(ctx, t);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      await undoResume(ctx, journal, op, `${reason}; no longer ready: ${messageOf(error)}`);
      return 'undone';
    }
    await commitResume(journal, op);
    return 'finished';
  }
  await undoResume(ctx, journal, op, reason);
  return 'undone';
}
