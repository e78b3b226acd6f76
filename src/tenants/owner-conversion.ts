import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { OperationJournal, type Operation, type SettleOutcome } from '../operations/journal.js';
import { lockSpaces } from '../admin-db/database.js';
import { runningContainerOf } from '../stack/tenant-ports.js';
import { TenantRegistry } from './registry.js';
import { runtimeFor } from '../runtime/runtime-for.js';
import { requireTenantFor } from './day2-target.js';
import { finishOwnerConversion, ownerIsSuperuser, undoOwnerConversion, type SchemaJournal, type TenantSchemaTarget } from './schema.js';
import type { OwnerChange, OwnerConversionStep, OwnerSeparation } from './owner-role.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// `migrate` converting an owner role that is still a superuser (tenants/owner-role.ts) is journaled
// (verb 'owner-conversion', migration 030): the intent (which server, which owner, what change) is on
// record before the first effect, each step after its effect ('helper-made', then 'separated'; or
// 'demoted'), and the operation is closed once the helper role is dropped, with the audit row. A run
// killed anywhere in it leaves the row 'running'; the next command on the tenant (tenants/hold.ts)
// finishes it: every step is idempotent and the separation is one transaction, so going forward is
// always right. Only when going forward fails and the separation had not committed is it undone
// (the helper role dropped): the owner is then as it was, still a superuser, and the next migrate
// tries again. While the tenant's database is not running the settlement is deferred: the entry
// waits without holding the tenant (a start brings the database back and settles it).

export interface OwnerConversionIntent {
  project: string;
  service: string;
  owner: string;
  database: string;
  change: Exclude<OwnerChange, 'none'>;
}

const committed = (step: string) => step === 'separated' || step === 'demoted';

/** The journal a migrate hands applyTenantSchema: it begins the operation only when there is a conversion to do. */
export function conversionJournal(ctx: Context, tenant: string, target: Omit<OwnerConversionIntent, 'change'>): SchemaJournal & { open(): Operation<OwnerConversionIntent> | undefined } {
  let op: Operation<OwnerConversionIntent> | undefined;
  const journal = async () => new OperationJournal(await ctx.adminDb());
  return {
    open: () => (op && op.state === 'running' ? op : undefined),
    begin: async (change) => {
      op = await (await journal()).begin<OwnerConversionIntent>({ tenant, verb: 'owner-conversion', host: ctx.dockerHost.id, data: { ...target, change } });
    },
    step: async (step: OwnerConversionStep) => {
      if (op) await (await journal()).step(op, step);
    },
    finish: async (separation) => {
      if (!op) return;
      await closeCompleted(ctx, await journal(), op, separation);
    },
  };
}

/**
 * What a migrate whose conversion failed does before it reports the failure (not on an interrupt:
 * that is left to the next command, like a kill). It works from the operation as the admin database
 * has it and from the owner as PostgreSQL has it, never from memory: a separation whose COMMIT
 * answer was lost did commit. A conversion that committed (the owner no superuser) is finished and
 * closed completed, with its audit row; one that had not is undone at once (the helper dropped), so
 * the tenant is not held by a journal entry that can only fail again the same way. When the journal
 * cannot be read, or the tenant lock is not proven this process's, nothing is done to the tenant's
 * database: the entry stays for the next command.
 */
export async function undoFailedConversion(ctx: Context, inMemory: Operation<OwnerConversionIntent>, cause: unknown): Promise<void> {
  const db = await ctx.adminDb();
  const journal = new OperationJournal(db);
  const op = await journal.reread(inMemory).catch(ignoreFailure('an entry that cannot be read is left as it is: nothing is undone without it'));
  if (!op || op.state !== 'running') return;
  const lockHeld = () => db.proveLock(lockSpaces.tenant, op.tenant).then((answer) => answer === 'held');
  if (!(await lockHeld())) return;
  const target = await schemaTarget(ctx, op);
  const options = probeOptions(ctx);
  if (committed(op.step) || !(await ownerIsSuperuser(target, options))) {
    await settleForward(ctx, journal, op, target);
    return;
  }
  // The helper role is dropped only by the holder of the tenant lock: a run that lost it may be racing a settlement.
  if (!(await lockHeld())) return;
  await undoOwnerConversion(target, options);
  await journal.finish(op, 'undone', `owner conversion failed: ${messageOf(cause)}`);
}

/**
 * Settles an 'owner-conversion' a killed run left (cli/settle-table.ts): forward when it can, else
 * undone. One whose database is not running is deferred (left running, the command goes on: a start
 * brings the database back and settles it before it ends); one whose tenant is deprovisioned without
 * its data is closed undone (its database went with it).
 */
export async function resumeOwnerConversion(ctx: Context, op: Operation<OwnerConversionIntent>): Promise<SettleOutcome> {
  const journal = new OperationJournal(await ctx.adminDb());
  const where = await databaseOf(ctx, op);
  if (where === 'gone') {
    await journal.finish(op, 'undone', `interrupted at step ${op.step}; the tenant was deprovisioned without its data, so its database (and the conversion) is gone`);
    return 'undone';
  }
  if (where === 'not-running') return 'deferred';
  const target = await schemaTarget(ctx, op);
  try {
    await settleForward(ctx, journal, op, target);
    return 'finished';
  } catch (error) {
    if (committed(op.step) || ctx.signal.aborted) throw error;
    // The helper role is dropped only by the holder of the tenant lock.
    if (await (await ctx.adminDb()).proveLock(lockSpaces.tenant, op.tenant) !== 'held') throw error;
    try {
      await undoOwnerConversion(target, probeOptions(ctx));
    } catch {
      // Neither forward nor back: the first cause is what the operator needs (the entry stays for the next command).
      throw error;
    }
    await journal.finish(op, 'undone', `interrupted at step ${op.step}; could not be finished (${messageOf(error)}); undone by a later command`);
    return 'undone';
  }
}

/** Finishes the conversion (idempotent: one found converted already is only closed) and closes it completed, with its audit row. */
async function settleForward(ctx: Context, journal: OperationJournal, op: Operation<OwnerConversionIntent>, target: TenantSchemaTarget): Promise<void> {
  const separation = await finishOwnerConversion(target, probeOptions(ctx), {
    begin: async () => {},
    step: (step) => journal.step(op, step),
  }, ctx.pause);
  // Found converted already (a run killed after the commit): the change is the one on record; what
  // it left is read again from the database (finishOwnerConversion found none to report only if none).
  await closeCompleted(ctx, journal, op, separation.change === 'none' ? { change: op.data.change, leftovers: separation.leftovers } : separation);
}

/** Where the tenant's database is for a settlement: running (go on), not running (defer), or gone with the tenant. */
async function databaseOf(ctx: Context, op: Operation<OwnerConversionIntent>): Promise<'running' | 'not-running' | 'gone'> {
  const record = await new TenantRegistry(await ctx.adminDb()).get(op.tenant);
  if (!record || (record.status === 'deprovisioned' && !record.keptData)) return 'gone';
  if (record.status !== 'active') return 'not-running';
  const t = await requireTenantFor(ctx, op.tenant, 'have its owner conversion finished', ['active']);
  const containers = (await runtimeFor(ctx.dockerHost, t.target, ctx.signal)).containers;
  return (await runningContainerOf(containers, op.data.project, op.data.service, ctx.signal)) ? 'running' : 'not-running';
}

async function closeCompleted(ctx: Context, journal: OperationJournal, op: Operation<OwnerConversionIntent>, separation: OwnerSeparation): Promise<void> {
  const db = await ctx.adminDb();
  await journal.finish(op, 'completed', null, (client) => recordAudit(db, client, op.tenant, 'tenant.owner-role', null, {
    owner: op.data.owner, change: separation.change, ...(separation.leftovers.length > 0 ? { leftovers: separation.leftovers } : {}),
  }));
}

async function schemaTarget(ctx: Context, op: Operation<OwnerConversionIntent>): Promise<TenantSchemaTarget> {
  const t = await requireTenantFor(ctx, op.tenant, 'have its owner conversion finished (its database must be running)', ['active']);
  const containers = (await runtimeFor(ctx.dockerHost, t.target, ctx.signal)).containers;
  return { host: containers, project: op.data.project, service: op.data.service, owner: op.data.owner, database: op.data.database };
}

const probeOptions = (ctx: Context) => ({ clock: ctx.clock, deadlineMs: ctx.config.healthDeadlineSeconds * 1000, signal: ctx.signal });
