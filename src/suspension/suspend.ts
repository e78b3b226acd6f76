import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { composeStopTimeoutMs } from '../common/timeouts.js';
import { LostLockError } from '../admin-db/database.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { runtimeFor } from '../runtime/runtime-for.js';
import { parseTenantId } from '../tenants/input.js';
import { holdTenant } from '../tenants/hold.js';
import { TenantRegistry, type Suspension, type TenantStatus } from '../tenants/registry.js';
import { requireTenantFor, type Day2Target } from '../tenants/day2-target.js';
import { parseReason } from './reason.js';
import { syncDoor } from './door.js';

// `tenantctl suspend <id> --reason <text>`, under the tenant's lock, journaled:
//   begun        the intent (reason, who, the status before) in the journal; nothing changed yet
//   marked       the row says suspended (reason, since when, by whom), in the step's transaction:
//                from here the gateway refuses the tenant's keys with the reason (its point of no return)
//   door-closed  the front door serves the suspension page instead of proxying to the app
//   stopped      the stack is stopped (the stop verb's runtime path: compose stop, or services
//                scaled to 0 on a swarm); containers, volumes, keys, secrets and allocations stay
// A run killed before 'marked' is undone by the next command on the tenant (nothing happened); from
// 'marked' on it is finished (the door closed, the stack stopped): the suspension stands.

export interface SuspendResult {
  id: string;
  /** suspended: done now; already-suspended: it was (its stack made sure to be stopped). */
  outcome: 'suspended' | 'already-suspended';
  status: 'suspended';
  suspension: Suspension;
  /** The status it had before (active or stopped). */
  previous: TenantStatus;
  durationMs: number;
}

export interface SuspendIntent {
  reason: string;
  by: string;
  previous: TenantStatus;
}

export async function suspendTenant(ctx: Context, input: { id: unknown; reason: unknown }): Promise<SuspendResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(input.id);
  const reason = parseReason(input.reason);
  const db = await ctx.adminDb();
  const release = await holdTenant(ctx, id);
  try {
    const t = await requireTenantFor(ctx, id, 'be suspended', ['active', 'stopped', 'suspended']);
    if (t.record.status === 'suspended') {
      // Idempotent: a re-run (or a backup killed while it had the state services up) leaves it stopped.
      await stopStack(ctx, t);
      return { id, outcome: 'already-suspended', status: 'suspended', suspension: t.record.suspension!, previous: 'suspended', durationMs: ctx.clock.now() - started };
    }
    const journal = new OperationJournal(db);
    const op = await journal.begin<SuspendIntent>({ tenant: id, verb: 'suspend', host: ctx.dockerHost.id, data: { reason, by: ctx.actor, previous: t.record.status } });
    try {
      await ctx.pause('suspend:begun');
      await journal.step(op, 'marked', {}, (client) => new TenantRegistry(db).markSuspended(client, id, { reason, by: ctx.actor, previous: t.record.status }));
      await ctx.pause('suspend:marked');
      await finishSuspension(ctx, journal, op, t);
    } catch (error) {
      throw await settleAfterFailure(ctx, journal, op, error);
    }
    const record = await new TenantRegistry(db).require(id);
    return { id, outcome: 'suspended', status: 'suspended', suspension: record.suspension!, previous: op.data.previous, durationMs: ctx.clock.now() - started };
  } finally {
    await release();
  }
}

/** From 'marked': the door closed, the stack stopped, the journal closed as completed. */
async function finishSuspension(ctx: Context, journal: OperationJournal, op: Operation<SuspendIntent>, t: Day2Target): Promise<void> {
  if (op.step === 'marked') {
    ctx.reporter.step('closing the front door: the suspension page instead of the app');
    await syncDoor(ctx);
    await journal.step(op, 'door-closed');
    await ctx.pause('suspend:door-closed');
  }
  await stopStack(ctx, t);
  await journal.step(op, 'stopped');
  await ctx.pause('suspend:stopped');
  await journal.finish(op, 'completed');
}

async function stopStack(ctx: Context, t: Day2Target): Promise<void> {
  const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
  ctx.reporter.step(`stopping ${t.record.composeProject} (${runtime.kind === 'swarm' ? 'its services scaled to 0; volumes are kept' : 'containers and volumes are kept'})`);
  await runtime.stop(undefined, { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
}

/**
 * The failing run settles its own operation as the next command would (even after Ctrl-C: with a
 * signal of its own), unless its lock is gone (then the next command does). The error keeps its
 * first cause and says what became of the suspension.
 */
async function settleAfterFailure(ctx: Context, journal: OperationJournal, op: Operation<SuspendIntent>, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  if (first instanceof LostLockError || (await journal.db.locksProven())) {
    first.details.push(`the suspension stopped at step ${op.step}; the next command on ${op.tenant} finishes or undoes it from its journal`);
    return first;
  }
  const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
  try {
    const outcome = await resumeSuspend(quiet, op, first.message);
    first.details.push(outcome === 'finished'
      ? `${op.tenant} was already marked suspended (the gateway refuses its keys): the suspension was finished (door closed, stack stopped)`
      : `nothing had changed yet: the suspension was undone; ${op.tenant} is ${op.data.previous} as before`);
  } catch (problem) {
    first.details.push(`settling the suspension failed too: ${messageOf(problem)}; the next command on ${op.tenant} tries again (step ${op.step})`);
  }
  return first;
}

/** Settles a suspension a killed run left: undone before 'marked' (nothing happened), finished from it. */
export async function resumeSuspend(ctx: Context, op: Operation<SuspendIntent>, reason = `interrupted at step ${op.step}; settled by a later command`): Promise<'finished' | 'undone'> {
  const journal = new OperationJournal(await ctx.adminDb());
  if (op.step === 'begun') {
    await journal.finish(op, 'undone', reason);
    return 'undone';
  }
  const t = await requireTenantFor(ctx, op.tenant, 'have its suspension finished', ['suspended']);
  await finishSuspension(ctx, journal, op, t);
  return 'finished';
}
