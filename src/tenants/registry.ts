import type pg from 'pg';
import { TenantctlError } from '../common/errors.js';
import type { AdminDb } from '../admin-db/database.js';
import { recordAudit } from '../audit/write.js';
import { lockSpaces } from '../admin-db/database.js';

// The tenants on record (admin_customers): their rows, their status transitions and the
// per-tenant lock. Every status change runs in one transaction with its audit row.

export type TenantStatus = 'provisioning' | 'active' | 'stopped' | 'suspended' | 'failed' | 'deprovisioning' | 'deprovisioned';

/** Why, since when and by whom a tenant is suspended (migration 019); null unless it is. */
export interface Suspension {
  /** Internal: operators and the tenant's own API keys see it, anonymous visitors never do. */
  reason: string;
  /** What the front door's page shows visitors (--public-message); null: a generic page. */
  publicMessage: string | null;
  at: string;
  by: string;
  /** When the policy's warning a day before deprovisioning was raised (markDeprovisionWarned); null: not yet. */
  deprovisionWarnedAt: string | null;
}

export interface TenantRecord {
  id: string;
  name: string;
  plan: string;
  status: TenantStatus;
  statusReason: string | null;
  /** Its data volumes and passwords are kept (deprovision --keep-data) and must survive any failure. */
  keptData: boolean;
  host: string;
  composeProject: string;
  ports: { app: number | null; db: number | null; redis: number | null };
  /** The template it was made from (crm for tenants on record before templates), its checksum then, and the profiles switched on. */
  template: string;
  templateChecksum: string | null;
  profiles: string[];
  subnet: string | null;
  appUrl: string | null;
  createdAt: string;
  updatedAt: string;
  provisionedAt: string | null;
  deprovisionedAt: string | null;
  suspension: Suspension | null;
}

/**
 * "The database's now()" as a column's new value. An object of its own, compared by identity: no
 * value a user or the environment supplies (a --reason of "now()", TENANTCTL_ACTOR=now()) can be it.
 */
export const databaseNow: { readonly sql: 'now()' } = Object.freeze({ sql: 'now()' });
type ColumnValue = string | boolean | null | typeof databaseNow;

const toRecord = (row: any): TenantRecord => ({
  id: row.id,
  name: row.name,
  plan: row.plan,
  status: row.status,
  statusReason: row.status_reason,
  keptData: row.kept_data === true,
  host: row.host,
  composeProject: row.compose_project,
  ports: { app: row.app_port, db: row.db_port, redis: row.redis_port },
  template: row.template ?? 'crm',
  templateChecksum: row.template_checksum ?? null,
  profiles: row.profiles ?? [],
  subnet: row.subnet,
  appUrl: row.app_url,
  createdAt: iso(row.created_at)!,
  updatedAt: iso(row.updated_at)!,
  provisionedAt: iso(row.provisioned_at),
  deprovisionedAt: iso(row.deprovisioned_at),
  suspension: row.suspended_at ? {
    reason: row.suspension_reason ?? '', publicMessage: row.suspension_public_message ?? null, at: iso(row.suspended_at)!, by: row.suspended_by ?? '', deprovisionWarnedAt: iso(row.deprovision_warned_at),
  } : null,
});
const iso = (value: Date | null) => (value ? value.toISOString() : null);


/** A tenant's stack lives on the Docker host it is recorded on; a command pointed at another refuses (exit 5). */
export function wrongHost(id: string, recorded: string, current: string): TenantctlError {
  return new TenantctlError(
    'conflict',
    `tenant ${id} is on Docker host ${recorded}, but this tenantctl works on ${current}; point it at ${recorded} (DOCKER_HOST and TENANTCTL_HOST_ID) to change it`,
  );
}

export class TenantRegistry {
  constructor(readonly db: AdminDb) {}

  /**
   * Holds a per-tenant lock for as long as the returned release function is not called, so two
   * processes never provision or deprovision the same tenant at once. Returns undefined if another
   * process holds it.
   */
  tryLock(id: string): Promise<(() => Promise<void>) | undefined> {
    return this.db.tryLock(lockSpaces.tenant, id);
  }

  /** The tenant's lock, or exit 5 when another process holds it. Returns the release function. */
  async lock(id: string): Promise<() => Promise<void>> {
    const unlock = await this.tryLock(id);
    if (!unlock) throw new TenantctlError('conflict', `tenant ${id} is being changed by another tenantctl process; try again when it has finished`);
    return unlock;
  }

  async get(id: string): Promise<TenantRecord | undefined> {
    const { rows } = await this.db.pool.query('SELECT * FROM admin_customers WHERE id = $1', [id]).catch(this.db.unreachable);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /**
   * The tenant's host ports by name (admin_allocations, purpose = the template's port name); for a
   * row without allocations (released), the crm columns that are set.
   */
  async portsOf(record: TenantRecord): Promise<Record<string, number>> {
    // On the host the row names: during a move the tenant holds ports on both.
    const { rows } = await this.db.pool.query("SELECT purpose, value FROM admin_allocations WHERE customer_id = $1 AND host = $2 AND kind = 'port'", [record.id, record.host]).catch(this.db.unreachable);
    if (rows.length > 0) return Object.fromEntries(rows.map((r) => [String(r.purpose), Number(r.value)]));
    return Object.fromEntries(Object.entries(record.ports).filter((e): e is [string, number] => e[1] !== null));
  }

  /** Every tenant's host ports by name (admin_allocations), in one query: for list. */
  async allPorts(): Promise<Map<string, Record<string, number>>> {
    const { rows } = await this.db.pool.query(
      "SELECT a.customer_id, a.purpose, a.value FROM admin_allocations a JOIN admin_customers c ON c.id = a.customer_id AND c.host = a.host WHERE a.kind = 'port' ORDER BY a.customer_id, a.value::int",
    ).catch(this.db.unreachable);
    const byTenant = new Map<string, Record<string, number>>();
    for (const row of rows) byTenant.set(row.customer_id, { ...byTenant.get(row.customer_id), [row.purpose]: Number(row.value) });
    return byTenant;
  }

  /** The tenant's record, or notFound. */
  async require(id: string): Promise<TenantRecord> {
    const record = await this.get(id);
    if (!record) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
    return record;
  }

  async list(filter: { status?: TenantStatus } = {}): Promise<TenantRecord[]> {
    const { rows } = filter.status
      ? await this.db.pool.query('SELECT * FROM admin_customers WHERE status = $1 ORDER BY id', [filter.status]).catch(this.db.unreachable)
      : await this.db.pool.query('SELECT * FROM admin_customers ORDER BY id').catch(this.db.unreachable);
    return rows.map(toRecord);
  }

  /** Creates or resets the tenant's row to 'provisioning' (a failed or deprovisioned tenant starts clean), in the caller's transaction. */
  async startProvisioning(
    client: pg.ClientBase,
    input: { id: string; name: string; plan: string; host: string; composeProject: string; template: string; templateChecksum: string; profiles: string[] },
  ): Promise<void> {
    const before = await client.query('SELECT * FROM admin_customers WHERE id = $1 FOR UPDATE', [input.id]);
    await client.query(
      `INSERT INTO admin_customers (id, name, plan, status, host, compose_project, template, template_checksum, profiles)
       VALUES ($1, $2, $3, 'provisioning', $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET name = $2, plan = $3, status = 'provisioning', status_reason = NULL, host = $4,
         compose_project = $5, app_port = NULL, db_port = NULL, redis_port = NULL, subnet = NULL, app_url = NULL,
         template = $6, template_checksum = $7, profiles = $8,
         suspension_reason = NULL, suspension_public_message = NULL, suspended_at = NULL, suspended_by = NULL, deprovision_warned_at = NULL,
         deprovision_policy_at = NULL, updated_at = now(), provisioned_at = NULL, deprovisioned_at = NULL`,
      [input.id, input.name, input.plan, input.host, input.composeProject, input.template, input.templateChecksum, input.profiles],
    );
    // Its row counts on its host from now on: the placement that chose the host is done.
    await client.query('DELETE FROM admin_placements WHERE customer_id = $1', [input.id]);
    await recordAudit(this.db, client, input.id, 'provision.started', before.rows[0] ? pick(before.rows[0]) : null, { ...input, status: 'provisioning' });
  }

  /**
   * `within` runs in the same transaction (e.g. enabling default modules), so both happen or neither.
   * Kept data is in use again: it is the active tenant's data now, no longer "kept".
   */
  async markActive(id: string, appUrl: string | null, within?: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.setStatus(id, 'active', null, { app_url: appUrl, provisioned_at: databaseNow, kept_data: false }, 'provision.completed', false, within);
  }

  /** `tenantctl stop`: containers stopped, not removed; data, ports and subnet stay the tenant's. */
  async markStopped(id: string): Promise<void> {
    await this.setStatus(id, 'stopped', null, {}, 'tenant.stopped');
  }

  /**
   * `tenantctl suspend`: the door stops serving it (the gateway reads the status); its stack, data,
   * keys and allocations stay. `within` runs in the same transaction (the journal's step).
   */
  async markSuspended(client: pg.PoolClient, id: string, suspension: { reason: string; publicMessage: string | null; by: string; previous: TenantStatus }): Promise<void> {
    await this.setStatusIn(client, id, 'suspended', null, {
      suspension_reason: suspension.reason, suspension_public_message: suspension.publicMessage, suspended_at: databaseNow, suspended_by: suspension.by, deprovision_warned_at: null,
      // A policy mark left from an earlier run is not this suspension's.
      deprovision_policy_at: null,
    }, 'tenant.suspended', false, { previous: suspension.previous });
  }

  /** `tenantctl resume`: its stack is ready again; active, the suspension cleared (the audit row keeps it). */
  async markResumed(client: pg.PoolClient, id: string): Promise<void> {
    await this.setStatusIn(client, id, 'active', null, { suspension_reason: null, suspension_public_message: null, suspended_at: null, suspended_by: null, deprovision_warned_at: null, deprovision_policy_at: null }, 'tenant.resumed');
  }

  /** `tenantctl start` (or restart) brought the tenant's stack back and it is ready again. */
  async markStarted(id: string, action: 'tenant.started' | 'tenant.restarted' = 'tenant.started'): Promise<void> {
    await this.setStatus(id, 'active', null, {}, action);
  }

  /**
   * Records the failure and releases what the tenant held: nothing of a failed run stays reserved.
   * When its stack could not be removed (`release: false`), its ports and subnet stay held: they are
   * still in use on the host, and the next provision of the tenant cleans up and reserves afresh.
   */
  async markFailed(id: string, reason: string, within?: (client: pg.PoolClient) => Promise<void>, { release = true }: { release?: boolean } = {}): Promise<void> {
    await this.setStatus(id, 'failed', reason, {}, 'provision.failed', release, within);
  }

  /**
   * With keepData, kept_data is recorded before anything is removed: a run killed half-way must not
   * leave a row that a later provision would clean up with down -v.
   */
  async markDeprovisioning(id: string, keepData: boolean): Promise<void> {
    // A suspension ends with its tenant: the audit row keeps its reason.
    const ended = { suspension_reason: null, suspension_public_message: null, suspended_at: null, suspended_by: null, deprovision_warned_at: null };
    // An operator's deprovision without --keep-data is not the policy's to resume (the policy keeps
    // data): a mark left on the row is cleared. With keepData it is the policy's own run (the agent's
    // role may not clear the mark there) or an operator's that does what the policy would.
    await this.setStatus(id, 'deprovisioning', null, keepData ? { kept_data: true, ...ended } : { ...ended, deprovision_policy_at: null }, 'deprovision.started');
  }

  /** kept_data records whether the volumes were kept: a later provision brings them back with their passwords. */
  async markDeprovisioned(id: string, keptData: boolean, within?: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.setStatus(id, 'deprovisioned', keptData ? 'data volumes kept' : null, { deprovisioned_at: databaseNow, kept_data: keptData }, 'deprovision.completed', true, within);
  }

  private async setStatus(
    id: string, status: TenantStatus, reason: string | null, extra: Record<string, ColumnValue>, action: string,
    release = false, within?: (client: pg.PoolClient) => Promise<void>,
  ) {
    await this.db.withTransaction(async (client) => {
      await this.setStatusIn(client, id, status, reason, extra, action, release, {}, within);
    });
  }

  /** A status change and its audit row, in the caller's transaction. */
  private async setStatusIn(
    client: pg.PoolClient, id: string, status: TenantStatus, reason: string | null, extra: Record<string, ColumnValue>, action: string,
    release = false, audited: Record<string, unknown> = {},
    // Runs before the status change's audit row, so the transition is the trail's last word (a
    // deprovision's key revocation comes before its deprovision.completed).
    within?: (client: pg.PoolClient) => Promise<void>,
  ) {
    const before = await client.query('SELECT * FROM admin_customers WHERE id = $1 FOR UPDATE', [id]);
    if (!before.rows[0]) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
    const sets = ['status = $2', 'status_reason = $3', 'updated_at = now()'];
    const values: unknown[] = [id, status, reason];
    for (const [column, value] of Object.entries(extra)) {
      if (value === databaseNow) sets.push(`${column} = now()`);
      else {
        values.push(value);
        sets.push(`${column} = $${values.length}`);
      }
    }
    await client.query(`UPDATE admin_customers SET ${sets.join(', ')} WHERE id = $1`, values);
    // What it holds on its host (during a move the source's are the move's to release or give back).
    if (release) await client.query('DELETE FROM admin_allocations WHERE customer_id = $1 AND host = $2', [id, before.rows[0].host]);
    // A suspension's reason stays in the history of the transition that ends it.
    if (within) await within(client);
    const old = before.rows[0].suspension_reason ? { ...pick(before.rows[0]), suspension_reason: before.rows[0].suspension_reason } : pick(before.rows[0]);
    const auditedExtra = Object.fromEntries(Object.entries(extra).map(([column, value]) => [column, value === databaseNow ? 'now()' : value]));
    await recordAudit(this.db, client, id, action, old, { status, reason, ...auditedExtra, ...audited, ...(release ? { allocations: 'released' } : {}) });
  }
}

/** The audit row's "old values": the row's state, without timestamps that always change. */
function pick(row: any) {
  return { status: row.status, name: row.name, plan: row.plan, app_port: row.app_port, db_port: row.db_port, redis_port: row.redis_port, subnet: row.subnet };
}
