import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { composeStartTimeoutMs, composeStopTimeoutMs } from '../common/timeouts.js';
import { LostLockError } from '../admin-db/database.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { runtimeFor } from '../runtime/runtime-for.js';
import { parseTenantId } from '../tenants/input.js';
import { holdTenant } from '../tenants/hold.js';
import { TenantRegistry, type Suspension, type TenantStatus } from '../tenants/registry.js';
import { requireTenantFor, type Day2Target } from '../tenants/day2-target.js';
import { parsePublicMessage, parseReason } from './reason.js';
import { closeDoor } from './door.js';

// `tenantctl suspend <id> --reason <text> [--public-message <text>]`, under the tenant's lock, journaled:
//   begun        the intent (reason, message, who, the status before) in the journal; nothing changed yet
//   stopped      the stack is stopped (the stop verb's runtime path: compose stop, or services scaled
//                to 0 on a swarm); containers, volumes, keys, secrets and allocations stay. Visitors
//                now get the door's 502/503 for an app that does not answer, never the app: the
//                point of no return (a later command finishes the suspension from here)
//   marked       the row says suspended (reason, message, since when, by whom), in the step's
//                transaction: the gateway refuses the tenant's keys naming the suspension, and any
//                front door sync renders the tenant's suspended page (it reads the status)
//   door-closed  the front door's sync succeeded (recorded only then): the page and the 401s
// The stack stops before the row is marked so that no crash leaves a tenant marked suspended while
// its app is still served. A run killed at 'begun' is undone by the next command (the stack started
// again if it was active and the stop may have begun); from 'stopped' on it is finished.

export interface SuspendResult {
  id: string;
  /** suspended: done now; already-suspended: it was (its stack made sure to be stopped, its door closed). */
  outcome: 'suspended' | 'already-suspended';
  status: 'suspended';
  suspension: Suspension;
  /** The status it had before (active or stopped). */
  previous: TenantStatus;
  /** closed: the front door serves its page; none: no front door is set up on this machine. */
  door: 'closed' | 'none';
  durationMs: number;
}

export interface SuspendIntent {
  reason: string;
  publicMessage: string | null;
  by: string;
  previous: TenantStatus;
}

export async function suspendTenant(ctx: Context, input: { id: unknown; reason: unknown; publicMessage?: unknown }): Promise<SuspendResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(input.id);
  const reason = parseReason(input.reason);
  const publicMessage = parsePublicMessage(input.publicMessage);
  const db = await ctx.adminDb();
  const release = await holdTenant(ctx, id);
  try {
    const t = await requireTenantFor(ctx, id, 'be suspended', ['active', 'stopped', 'suspended']);
    if (t.record.status === 'suspended') {
      // Idempotent: a re-run (or a backup killed while it had the state services up) leaves it
      // stopped, and a door whose sync failed earlier is closed now.
      await stopStack(ctx, t);
      const door = await closeDoor(ctx, id);
      return { id, outcome: 'already-suspended', status: 'suspended', suspension: t.record.suspension!, previous: 'suspended', door, durationMs: ctx.clock.now() - started };
    }
    const journal = new OperationJournal(db);
    const op = await journal.begin<SuspendIntent>({ tenant: id, verb: 'suspend', host: ctx.dockerHost.id, data: { reason, publicMessage, by: ctx.actor, previous: t.record.status } });
    let door: 'closed' | 'none';
    try {
      await ctx.pause('suspend:begun');
      door = await finishSuspension(ctx, journal, op);
    } catch (error) {
      throw await settleAfterFailure(ctx, journal, op, error);
    }
    const record = await new TenantRegistry(db).require(id);
    return { id, outcome: 'suspended', status: 'suspended', suspension: record.suspension!, previous: op.data.previous, door, durationMs: ctx.clock.now() - started };
  } finally {
    await release();
  }
}

/** From wherever the journal stands: the stack stopped, the row marked, the door closed, the journal completed. */
async function finishSuspension(ctx: Context, journal: OperationJournal, op: Operation<SuspendIntent>): Promise<'closed' | 'none'> {
  if (op.step === 'begun') {
    await stopStack(ctx, await requireTenantFor(ctx, op.tenant, 'be suspended', ['active', 'stopped']));
    await journal.step(op, 'stopped');
    await ctx.pause('suspend:stopped');
  }
  if (op.step === 'stopped') {
    const { reason, publicMessage, by, previous } = op.data;
    await journal.step(op, 'marked', {}, (client) => new TenantRegistry(journal.db).markSuspended(client, op.tenant, { reason, publicMessage: publicMessage ?? null, by, previous }));
    await ctx.pause('suspend:marked');
  }
  ctx.reporter.step('closing the front door: the suspension page instead of the app');
  const door = await closeDoor(ctx, op.tenant);
  await journal.step(op, 'door-closed', {});
  await ctx.pause('suspend:door-closed');
  await journal.finish(op, 'completed');
  return door;
}

async function stopStack(ctx: Context, t: Day2Target): Promise<void> {
  const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
  ctx.reporter.step(`stopping ${t.record.composeProject} (${runtime.kind === 'swarm' ? 'its services scaled to 0; volumes are kept' : 'containers and volumes are kept'})`);
  await runtime.stop(undefined, { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
}

/**
 * The failing run settles its own operation as the next command would (even after Ctrl-C: with a
 * signal of its own), unless its lock is gone (then the next command does). It settles from the
 * operation as the database has it (journal.reread): a step whose COMMIT failed on the client's
 * side may have committed. The error keeps its first cause and says what became of the suspension.
 */
async function settleAfterFailure(ctx: Context, journal: OperationJournal, op: Operation<SuspendIntent>, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  if (first instanceof LostLockError || (await journal.db.locksProven())) {
    first.details.push(`the suspension stopped at step ${op.step}; the next command on ${op.tenant} finishes or undoes it from its journal`);
    return first;
  }
  const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
  try {
    const recorded = await journal.reread(op);
    if (recorded.state !== 'running') {
      first.details.push(`the suspension was recorded as ${recorded.state} at step ${recorded.step} after all`);
      return first;
    }
    const outcome = await resumeSuspend(quiet, recorded, first.message);
    first.details.push(outcome === 'finished'
      ? `${op.tenant}'s stack was already stopped: the suspension was finished (marked, door closed)`
      : `nothing had changed yet: the suspension was undone; ${op.tenant} is ${op.data.previous} as before`);
  } catch (problem) {
    first.details.push(`settling the suspension failed too: ${messageOf(problem)}; the next command on ${op.tenant} tries again`);
  }
  return first;
}

/**
 * Settles a suspension a killed run left: undone at 'begun' (its stop may have begun: an active
 * tenant's stack is started again), finished from 'stopped' on.
 */
export async function resumeSuspend(ctx: Context, op: Operation<SuspendIntent>, reason = `interrupted at step ${op.step}; settled by a later command`): Promise<'finished' | 'undone'> {
  const journal = new OperationJournal(await ctx.adminDb());
  if (op.step === 'begun') {
    if (op.data.previous === 'active') {
      const t = await requireTenantFor(ctx, op.tenant, 'have its interrupted suspension undone', ['active']);
      ctx.reporter.step(`starting ${t.record.composeProject} again: its suspension is undone`);
      const runtime = await runtimeFor(ctx.dockerHost, t.target, ctx.signal);
      await runtime.start(undefined, { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
    }
    await journal.finish(op, 'undone', reason);
    return 'undone';
  }
  await finishSuspension(ctx, journal, op);
  return 'finished';
}
