import type { Context } from '../context.js';
import { TenantctlError, usageError } from '../common/errors.js';
import { lockSpaces } from '../admin-db/database.js';
import { recordAudit } from '../audit/write.js';
import { OperationJournal, describeOperation, type Operation } from './journal.js';

// `tenantctl operations [id] [--all]` and `tenantctl operations abandon <id> --reason <text>`: the
// journal as operators read it, and the way out when an operation can never be settled (a host
// gone for good, a backup it needs deleted by hand): closed as failed, its effects left as they are.

export interface OperationsResult {
  operations: Array<Omit<Operation, 'data'> & { inFlight: boolean }>;
}

const idShape = /^[a-z][a-z0-9-]{0,39}$/;

export async function listOperations(ctx: Context, { id, all = false }: { id?: string; all?: boolean }): Promise<OperationsResult> {
  if (id !== undefined && !idShape.test(id)) throw usageError(`${JSON.stringify(id)} is not a tenant id`);
  const db = await ctx.adminDb();
  const where = [all ? 'true' : "state = 'running'", ...(id ? ['customer_id = $1'] : [])].join(' AND ');
  const { rows } = await db.pool.query(`SELECT * FROM admin_operations WHERE ${where} ORDER BY started_at DESC, id DESC LIMIT 500`, id ? [id] : []).catch(db.unreachable);
  const operations = await Promise.all(rows.map(async (row) => {
    // In flight: a tenantctl holds the tenant's lock now; else a running row is a killed run's.
    const release = row.state === 'running' ? await db.tryLock(lockSpaces.tenant, row.customer_id) : undefined;
    await release?.();
    return {
      id: Number(row.id), tenant: row.customer_id, verb: row.verb, host: row.host, step: row.step, state: row.state, reason: row.reason, actor: row.actor,
      startedAt: (row.started_at as Date).toISOString(), updatedAt: (row.updated_at as Date).toISOString(), inFlight: row.state === 'running' && release === undefined,
    };
  }));
  return { operations };
}

/**
 * Closes the tenant's unfinished operation as failed, without finishing or undoing it: what it did
 * stays as it is (the reason says so, audited). Refused while a tenantctl runs it (exit 5), and
 * without a reason (exit 2): the next commands on the tenant then run without settling it.
 */
export async function abandonOperation(ctx: Context, { id, reason }: { id: string; reason?: string }): Promise<{ abandoned: string; tenant: string; verb: string; step: string }> {
  if (!idShape.test(id)) throw usageError(`${JSON.stringify(id)} is not a tenant id`);
  if (!reason || reason.trim() === '') throw usageError('--reason <text> is required: why it is abandoned rather than settled (it goes into the audit log)');
  const db = await ctx.adminDb();
  const release = await db.tryLock(lockSpaces.tenant, id);
  if (!release) throw new TenantctlError('conflict', `tenant ${id} is being changed by another tenantctl process; its operation is in flight, not abandoned`);
  try {
    const journal = new OperationJournal(db);
    const op = await journal.pending(id);
    if (!op) throw new TenantctlError('notFound', `tenant ${id} has no unfinished operation`);
    await journal.finish(op, 'failed', `abandoned by ${db.actor}: ${reason.trim()}`, (client) => recordAudit(db, client, id, 'operation.abandoned', { verb: op.verb, step: op.step }, { reason: reason.trim() }));
    return { abandoned: describeOperation(op), tenant: id, verb: op.verb, step: op.step };
  } finally {
    await release();
  }
}
