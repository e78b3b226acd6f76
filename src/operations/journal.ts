import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';
import { TenantctlError } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';

// The operation journal (admin_operations, migration 011): one row per run of a multi-step verb on a
// tenant. A verb writes its intent (`begin`, with what it will create and what it needs to undo)
// before its first effect, and each step after the step's effect is done (`step`). A run that ends
// normally closes the row (`finish`); a run that was killed leaves it 'running', and the next
// command on the tenant settles it from its recorded step (tenants/hold.ts), finishing what was past
// the point of no return and undoing the rest. Every write is a fenced transaction (admin-db): a
// run that lost its tenant lock cannot record a step.

export type OperationVerb = 'restore' | 'move' | 'rotate-secrets' | 'upgrade' | 'backup-prune' | 'doctor-fix' | 'suspend' | 'resume' | 'scheduled-backup' | 'domains-add' | 'pitr-restore' | 'recover' | 'pitr-prune' | 'owner-conversion';
export type OperationState = 'running' | 'completed' | 'undone' | 'failed';
/**
 * What settling a killed run's operation made of it: finished forward, undone, or deferred — left
 * 'running' because what it needs is not there now (an owner conversion whose database is not
 * running); the command goes on and the entry is settled again when it ends (tenants/hold.ts).
 */
export type SettleOutcome = 'finished' | 'undone' | 'deferred';

export interface Operation<D extends object = Record<string, unknown>> {
  id: number;
  tenant: string;
  verb: OperationVerb;
  /** The Docker host the verb works on (a move: its source). */
  host: string;
  /** The last step whose effect is done. */
  step: string;
  state: OperationState;
  data: D;
  reason: string | null;
  actor: string;
  startedAt: string;
  updatedAt: string;
}

const toOperation = (row: any): Operation<any> => ({
  id: Number(row.id),
  tenant: row.customer_id,
  verb: row.verb,
  host: row.host,
  step: row.step,
  state: row.state,
  data: row.data ?? {},
  reason: row.reason,
  actor: row.actor,
  startedAt: (row.started_at as Date).toISOString(),
  updatedAt: (row.updated_at as Date).toISOString(),
});

/** One line for people: "restore of acme (at swapped, since 2026-12-06T01:02:03Z, by ops@host)". */
export function describeOperation(op: Pick<Operation, 'verb' | 'tenant' | 'step' | 'startedAt' | 'actor'>): string {
  return `${op.verb} of ${op.tenant} (at step ${op.step}, since ${op.startedAt}, by ${op.actor})`;
}

export class OperationJournal {
  constructor(readonly db: AdminDb) {}

  /** The tenant's unfinished operation, if a run left one. */
  async pending(tenant: string): Promise<Operation<any> | undefined> {
    const { rows } = await this.db.pool.query("SELECT * FROM admin_operations WHERE customer_id = $1 AND state = 'running'", [tenant]).catch(this.db.unreachable);
    return rows[0] ? toOperation(rows[0]) : undefined;
  }

  /**
   * The operation as the database has it now. A run that failed settles from this, not from its
   * in-memory copy: a COMMIT whose answer was lost (an error on the client's side) may have
   * committed a step, or closed the operation.
   */
  async reread<D extends object>(op: Operation<D>): Promise<Operation<D>> {
    const { rows } = await this.db.pool.query('SELECT * FROM admin_operations WHERE id = $1', [op.id]).catch(this.db.unreachable);
    if (!rows[0]) throw new TenantctlError('internal', `operation ${op.id} (${op.verb} of ${op.tenant}) is no longer on record`);
    return toOperation(rows[0]);
  }

  /** Every unfinished operation (doctor, status). */
  async running(): Promise<Operation<any>[]> {
    const { rows } = await this.db.pool.query("SELECT * FROM admin_operations WHERE state = 'running' ORDER BY started_at").catch(this.db.unreachable);
    return rows.map(toOperation);
  }

  /**
   * Records the intent, before the verb's first effect. Callers hold the tenant's lock and have
   * settled what an earlier run left (tenants/hold.ts), so another unfinished operation here is a
   * conflict (exit 5) that only a bug or a hand-made row explains; the unique index has the last word.
   */
  async begin<D extends object>(input: { tenant: string; verb: OperationVerb; host: string; step?: string; data: D }): Promise<Operation<D>> {
    return this.db.withTransaction(async (client) => {
      const { rows: open } = await client.query("SELECT * FROM admin_operations WHERE customer_id = $1 AND state = 'running' FOR UPDATE", [input.tenant]);
      if (open[0]) throw new TenantctlError('conflict', `an unfinished ${describeOperation(toOperation(open[0]))} is on record; run the command again to settle it first (one waiting for the tenant's database is settled by tenantctl start ${input.tenant}; tenantctl operations abandon ${input.tenant} --reason <text> closes it by hand)`);
      const { rows } = await client.query(
        'INSERT INTO admin_operations (customer_id, verb, host, step, data, actor) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
        [input.tenant, input.verb, input.host, input.step ?? 'begun', JSON.stringify(input.data), this.db.actor],
      );
      await recordAudit(this.db, client, input.tenant, 'operation.started', null, { operation: Number(rows[0].id), verb: input.verb, host: input.host });
      return toOperation(rows[0]);
    });
  }

  /**
   * Records that `step`'s effect is done, with what it learned (`patch`, merged into data); the
   * in-memory operation follows. `within` runs in the same transaction: a step whose effect is a
   * change in the admin database commits with its record, or neither.
   */
  async step<D extends object>(op: Operation<D>, step: string, patch: Partial<D> = {}, within?: (client: pg.PoolClient) => Promise<Partial<D> | void>): Promise<void> {
    const merged = await this.db.withTransaction(async (client) => {
      // What `within` learns in the transaction (a move's saved row) is recorded with the step.
      const learned = within ? ((await within(client)) ?? {}) : {};
      const all = { ...patch, ...learned };
      const { rowCount } = await client.query(
        "UPDATE admin_operations SET step = $2, data = data || $3::jsonb, updated_at = now() WHERE id = $1 AND state = 'running'",
        [op.id, step, JSON.stringify(all)],
      );
      if (!rowCount) throw new TenantctlError('conflict', `the ${op.verb} of ${op.tenant} (operation ${op.id}) was settled by another tenantctl meanwhile; stopped`);
      return all;
    });
    op.step = step;
    op.data = { ...op.data, ...merged };
  }

  /** Closes the operation: completed (its effect stands), undone (nothing of it stands) or failed (left for an operator, with the reason). */
  async finish(op: Operation<any>, state: Exclude<OperationState, 'running'>, reason: string | null = null, within?: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.db.withTransaction(async (client) => {
      const { rowCount } = await client.query(
        "UPDATE admin_operations SET state = $2, reason = $3, updated_at = now(), finished_at = now() WHERE id = $1 AND state = 'running'",
        [op.id, state, reason?.slice(0, 2000) ?? null],
      );
      if (!rowCount) throw new TenantctlError('conflict', `the ${op.verb} of ${op.tenant} (operation ${op.id}) was settled by another tenantctl meanwhile; stopped`);
      if (within) await within(client);
      await recordAudit(this.db, client, op.tenant, `operation.${state}`, { operation: op.id, verb: op.verb, step: op.step }, { state, ...(reason ? { reason: reason.slice(0, 500) } : {}) });
    });
    op.state = state;
    op.reason = reason;
  }
}
