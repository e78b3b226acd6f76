import pg from 'pg';
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { TenantctlError } from '../errors.js';
import { applyMigrations, readMigrations } from './migrate.js';
import { scriptsDir } from '../paths.js';
import type { PortPlan } from '../allocate/ports.js';

export type TenantStatus = 'provisioning' | 'active' | 'failed' | 'deprovisioning' | 'deprovisioned';

export interface TenantRecord {
  id: string;
  name: string;
  plan: string;
  status: TenantStatus;
  statusReason: string | null;
  host: string;
  composeProject: string;
  ports: { app: number | null; db: number | null; redis: number | null };
  subnet: string | null;
  appUrl: string | null;
  createdAt: string;
  updatedAt: string;
  provisionedAt: string | null;
  deprovisionedAt: string | null;
}

/** The admin schema: init-admin-db.sql first, then scripts/admin-migrations/*.sql in name order. */
export function adminMigrationFiles(): string[] {
  const dir = path.join(scriptsDir, 'admin-migrations');
  const later = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().map((f) => path.join(dir, f)) : [];
  return [path.join(scriptsDir, 'init-admin-db.sql'), ...later];
}

const toRecord = (row: any): TenantRecord => ({
  id: row.id,
  name: row.name,
  plan: row.plan,
  status: row.status,
  statusReason: row.status_reason,
  host: row.host,
  composeProject: row.compose_project,
  ports: { app: row.app_port, db: row.db_port, redis: row.redis_port },
  subnet: row.subnet,
  appUrl: row.app_url,
  createdAt: iso(row.created_at)!,
  updatedAt: iso(row.updated_at)!,
  provisionedAt: iso(row.provisioned_at),
  deprovisionedAt: iso(row.deprovisioned_at),
});
const iso = (value: Date | null) => (value ? value.toISOString() : null);

/** The status reason that marks a tenant whose data volumes and passwords were kept (deprovision --keep-data). */
export const keptDataReason = 'data volumes kept';

export interface Reservation {
  ports: PortPlan;
  subnet: string;
}

/**
 * The admin (control-plane) database: tenants, their host allocations and the audit trail.
 * All writes that must not interleave between concurrent tenantctl processes take advisory locks.
 */
export class Registry {
  /** The pool is shared with the other admin-database modules (control plane, secrets store). */
  private constructor(readonly pool: pg.Pool, readonly actor: string) {}

  /** `maxConnections`: each provision in flight holds one for its tenant lock and briefly uses another. */
  static async open(url: string, actor: string, { maxConnections = 4 } = {}): Promise<Registry> {
    const pool = new pg.Pool({ connectionString: url, max: maxConnections, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 1_000 });
    pool.on('error', () => {}); // an idle client dropped by the server must not crash the CLI
    const registry = new Registry(pool, actor);
    const client = await registry.connect();
    try {
      await applyMigrations(client, 'admin_schema_migrations', await readMigrations(adminMigrationFiles()));
    } catch (error) {
      throw new TenantctlError('adminDb', `admin database schema: ${(error as Error).message}`, { cause: error });
    } finally {
      client.release();
    }
    return registry;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw new TenantctlError('adminDb', `admin database unreachable: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Runs work in one transaction on one pooled client; rolls back if it throws. */
  async withTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Holds a per-tenant lock for as long as the returned release function is not called, so two
   * processes never provision or deprovision the same tenant at once. Returns undefined if another
   * process holds it.
   */
  async tryLockTenant(id: string): Promise<(() => Promise<void>) | undefined> {
    const client = await this.connect();
    const { rows } = await client.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [`tenantctl.tenant.${id}`]);
    if (!rows[0].locked) {
      client.release();
      return undefined;
    }
    return async () => {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`tenantctl.tenant.${id}`]).catch(() => {});
      client.release();
    };
  }

  async get(id: string): Promise<TenantRecord | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM admin_customers WHERE id = $1', [id]).catch(this.unreachable);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async list(filter: { status?: TenantStatus } = {}): Promise<TenantRecord[]> {
    const { rows } = filter.status
      ? await this.pool.query('SELECT * FROM admin_customers WHERE status = $1 ORDER BY id', [filter.status]).catch(this.unreachable)
      : await this.pool.query('SELECT * FROM admin_customers ORDER BY id').catch(this.unreachable);
    return rows.map(toRecord);
  }

  /**
   * Reserves ports and a subnet for a tenant. A transaction-scoped lock serialises all allocations on
   * one admin database, and the host check (choose) runs inside it, so no two processes can choose the
   * same free port; the primary key on admin_allocations would refuse it anyway.
   */
  async reserve(
    id: string,
    host: string,
    choose: (held: { ports: Set<number>; subnets: Set<string> }) => Promise<Reservation>,
    start?: { name: string; plan: string; composeProject: string },
  ): Promise<Reservation> {
    return this.withTransaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tenantctl.allocate.${host}`]);
      // With `start`, the row is created (or reset) in the same transaction: a refused reservation
      // (port taken, pool full) leaves no trace in the registry.
      if (start) await this.startProvisioning(client, { id, host, ...start });
      const { rows } = await client.query('SELECT kind, value FROM admin_allocations WHERE host = $1 AND customer_id <> $2', [host, id]);
      const held = {
        ports: new Set(rows.filter((r) => r.kind === 'port').map((r) => Number(r.value))),
        subnets: new Set(rows.filter((r) => r.kind === 'subnet').map((r) => String(r.value))),
      };
      const reservation = await choose(held);
      await client.query('DELETE FROM admin_allocations WHERE customer_id = $1', [id]);
      for (const [purpose, port] of Object.entries(reservation.ports)) {
        await client.query('INSERT INTO admin_allocations (host, kind, value, customer_id, purpose) VALUES ($1, $2, $3, $4, $5)', [host, 'port', String(port), id, purpose]);
      }
      await client.query('INSERT INTO admin_allocations (host, kind, value, customer_id, purpose) VALUES ($1, $2, $3, $4, $5)', [host, 'subnet', reservation.subnet, id, 'network']);
      await client.query('UPDATE admin_customers SET app_port = $2, db_port = $3, redis_port = $4, subnet = $5, updated_at = now() WHERE id = $1', [
        id, reservation.ports.app, reservation.ports.db, reservation.ports.redis, reservation.subnet,
      ]);
      await this.audit(client, id, 'allocation.reserved', null, reservation);
      return reservation;
    });
  }

  /** Creates or resets the tenant's row to 'provisioning' (a failed or deprovisioned tenant starts clean). */
  private async startProvisioning(client: pg.PoolClient, input: { id: string; name: string; plan: string; host: string; composeProject: string }): Promise<void> {
    const before = await client.query('SELECT * FROM admin_customers WHERE id = $1 FOR UPDATE', [input.id]);
    await client.query(
      `INSERT INTO admin_customers (id, name, plan, status, host, compose_project)
       VALUES ($1, $2, $3, 'provisioning', $4, $5)
       ON CONFLICT (id) DO UPDATE SET name = $2, plan = $3, status = 'provisioning', status_reason = NULL, host = $4,
         compose_project = $5, app_port = NULL, db_port = NULL, redis_port = NULL, subnet = NULL, app_url = NULL,
         updated_at = now(), provisioned_at = NULL, deprovisioned_at = NULL`,
      [input.id, input.name, input.plan, input.host, input.composeProject],
    );
    await this.audit(client, input.id, 'provision.started', before.rows[0] ? pick(before.rows[0]) : null, { ...input, status: 'provisioning' });
  }

  /** `within` runs in the same transaction (e.g. enabling default modules), so both happen or neither. */
  async markActive(id: string, appUrl: string, within?: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.setStatus(id, 'active', null, { app_url: appUrl, provisioned_at: 'now()' }, 'provision.completed', false, within);
  }

  /** Records the failure and releases what the tenant held: nothing of a failed run stays reserved. */
  async markFailed(id: string, reason: string, within?: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.setStatus(id, 'failed', reason, {}, 'provision.failed', true, within);
  }

  async markDeprovisioning(id: string): Promise<void> {
    await this.setStatus(id, 'deprovisioning', null, {}, 'deprovision.started');
  }

  async markDeprovisioned(id: string, keptData: boolean, within?: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    await this.setStatus(id, 'deprovisioned', keptData ? keptDataReason : null, { deprovisioned_at: 'now()' }, 'deprovision.completed', true, within);
  }

  async allocationsOf(id: string): Promise<Array<{ kind: string; value: string; purpose: string }>> {
    const { rows } = await this.pool.query('SELECT kind, value, purpose FROM admin_allocations WHERE customer_id = $1 ORDER BY kind, purpose', [id]).catch(this.unreachable);
    return rows;
  }

  private async setStatus(
    id: string, status: TenantStatus, reason: string | null, extra: Record<string, string>, action: string,
    release = false, within?: (client: pg.PoolClient) => Promise<void>,
  ) {
    await this.withTransaction(async (client) => {
      const before = await client.query('SELECT * FROM admin_customers WHERE id = $1 FOR UPDATE', [id]);
      if (!before.rows[0]) throw new TenantctlError('notFound', `no tenant ${id} in the admin database`);
      const sets = ['status = $2', 'status_reason = $3', 'updated_at = now()'];
      const values: unknown[] = [id, status, reason];
      for (const [column, value] of Object.entries(extra)) {
        if (value === 'now()') sets.push(`${column} = now()`);
        else {
          values.push(value);
          sets.push(`${column} = $${values.length}`);
        }
      }
      await client.query(`UPDATE admin_customers SET ${sets.join(', ')} WHERE id = $1`, values);
      if (release) await client.query('DELETE FROM admin_allocations WHERE customer_id = $1', [id]);
      if (within) await within(client);
      await this.audit(client, id, action, pick(before.rows[0]), { status, reason, ...extra, ...(release ? { allocations: 'released' } : {}) });
    });
  }

  /** Appends to admin_audit_logs: who (this registry's actor), what, old and new values. */
  async audit(client: pg.ClientBase, customerId: string, action: string, oldValues: unknown, newValues: unknown) {
    await client.query('INSERT INTO admin_audit_logs (customer_id, action, actor, old_values, new_values) VALUES ($1, $2, $3, $4, $5)', [
      customerId, action, this.actor, oldValues === null ? null : JSON.stringify(oldValues), newValues === null ? null : JSON.stringify(newValues),
    ]);
  }

  unreachable = (error: unknown): never => {
    throw new TenantctlError('adminDb', `admin database query failed: ${(error as Error).message}`, { cause: error });
  };
}

/** The audit row's "old values": the row's state, without timestamps that always change. */
function pick(row: any) {
  return { status: row.status, name: row.name, plan: row.plan, app_port: row.app_port, db_port: row.db_port, redis_port: row.redis_port, subnet: row.subnet };
}
