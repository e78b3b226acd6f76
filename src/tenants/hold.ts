import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { lockSpaces } from '../admin-db/database.js';
import { OperationJournal, describeOperation, type SettleOutcome } from '../operations/journal.js';

// How every verb that changes a tenant starts: it takes the tenant's lock for its whole run, then
// settles what a killed run left in the operation journal (finishing it past its point of no return,
// undoing it before) — from the recorded step, never guessed from the tenant's status — and only
// then does its own work. A verb called inside another that holds the lock (a move's backup and
// restore, a restore's provision) gets the lock at once and settles nothing: the outer verb owns
// the tenant's operation.

/** The tenant's lock (exit 5 while another tenantctl holds it), the journal settled; returns the release. */
export async function holdTenant(ctx: Context, id: string): Promise<() => Promise<void>> {
  const db = await ctx.adminDb();
  const nested = db.holds(lockSpaces.tenant, id);
  const release = await db.tryLock(lockSpaces.tenant, id);
  if (!release) throw new TenantctlError('conflict', `tenant ${id} is being changed by another tenantctl process; try again when it has finished`);
  if (nested) return release;
  let outcome: SettleOutcome | undefined;
  try {
    outcome = await settlePending(ctx, id);
  } catch (error) {
    await release();
    throw error;
  }
  if (outcome !== 'deferred') return release;
  // An operation that waits for something the verb may bring back (a start runs the database an
  // owner conversion needs; a deprovision removes it): settled again before the lock goes.
  return async () => {
    try {
      if (!ctx.signal.aborted) await settlePending(ctx, id);
    } catch (error) {
      // The verb's own outcome stands; the entry stays for the next command, which says why again.
      ctx.reporter.info(messageOf(error));
    } finally {
      await release();
    }
  };
}

/**
 * Settles the tenant's unfinished operation, if a killed run left one (the caller holds the lock);
 * says what became of it ('deferred': left running, the command may go on). A settlement that fails stops the command with its cause: nothing else is
 * done to a tenant whose last operation is neither finished nor undone.
 */
export async function settlePending(ctx: Context, id: string): Promise<SettleOutcome | undefined> {
  const op = await new OperationJournal(await ctx.adminDb()).pending(id);
  if (!op) return undefined;
  ctx.reporter.step(`settling an interrupted ${describeOperation(op)}`);
  try {
    const outcome = await ctx.settleOperation(ctx, op);
    ctx.reporter.info(outcome === 'deferred'
      ? `the interrupted ${op.verb} of ${id} waits (tenantctl operations ${id}); it is settled when its needs are met, or closed by tenantctl operations abandon ${id} --reason <text>`
      : `the interrupted ${op.verb} of ${id} is ${outcome}`);
    return outcome;
  } catch (error) {
    const kind = error instanceof TenantctlError ? error.kind : 'internal';
    throw new TenantctlError(kind, `an interrupted ${describeOperation(op)} could not be settled: ${messageOf(error)}; nothing else was done (run the command again, or tenantctl doctor; tenantctl operations abandon ${id} --reason <text> closes the entry by hand)`, {
      cause: error, details: error instanceof TenantctlError ? error.details : [],
    });
  }
}
