import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { runtimeFor } from '../runtime/runtime-for.js';
import { requireTenantFor } from './day2-target.js';
import { finishOwnerConversion, undoOwnerConversion, type SchemaJournal, type TenantSchemaTarget } from './schema.js';
import type { OwnerChange, OwnerConversionStep, OwnerSeparation } from './owner-role.js';

// `migrate` converting an owner role that is still a superuser (tenants/owner-role.ts) is journaled
// (verb 'owner-conversion', migration 030): the intent (which server, which owner, what change) is on
// record before the first effect, each step after its effect ('helper-made', then 'separated'; or
// 'demoted'), and the operation is closed once the helper role is dropped, with the audit row. A run
// killed anywhere in it leaves the row 'running'; the next command on the tenant (tenants/hold.ts)
// finishes it: every step is idempotent and the separation is one transaction, so going forward is
// always right. Only when going forward fails and the separation had not committed is it undone
// (the helper role dropped): the owner is then as it was, still a superuser, and the next migrate
// tries again.

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
 * that is left to the next command, like a kill): a conversion that had not committed is undone at
 * once, so the tenant is not held by a journal entry that can only fail again the same way.
 */
export async function undoFailedConversion(ctx: Context, op: Operation<OwnerConversionIntent>, cause: unknown): Promise<void> {
  if (committed(op.step)) return;
  const journal = new OperationJournal(await ctx.adminDb());
  const target = await schemaTarget(ctx, op);
  await undoOwnerConversion(target, probeOptions(ctx));
  await journal.finish(op, 'undone', `owner conversion failed: ${messageOf(cause)}`);
}

/** Settles an 'owner-conversion' a killed run left (cli/settle-table.ts): forward when it can, else undone. */
export async function resumeOwnerConversion(ctx: Context, op: Operation<OwnerConversionIntent>): Promise<'finished' | 'undone'> {
  const journal = new OperationJournal(await ctx.adminDb());
  const target = await schemaTarget(ctx, op);
  try {
    const separation = await finishOwnerConversion(target, probeOptions(ctx), {
      begin: async () => {},
      step: (step) => journal.step(op, step),
    }, ctx.pause);
    // Found converted already (a run killed after the commit): the change is the one on record.
    await closeCompleted(ctx, journal, op, separation.change === 'none' ? { change: op.data.change, leftovers: [] } : separation);
    return 'finished';
  } catch (error) {
    if (committed(op.step) || ctx.signal.aborted) throw error;
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
