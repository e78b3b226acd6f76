import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';
import type { TenantHealthState } from './classify.js';

// The watch's rows: admin_tenant_health (last state per tenant), admin_host_health (did the
// engine answer), admin_tenant_events (every transition, and auto-restarts).

export interface HealthRow {
  customerId: string;
  state: TenantHealthState;
  since: number;
  checkedAt: number;
  services: string[];
  restartAttempts: number;
  nextRestartAt: number | null;
}

/** What the pass needs of each tenant on the host: active ones, their plan, and whether a verb is changing them now. */
export interface WatchedTenant {
  id: string;
  plan: string;
  composeProject: string;
  /** Its lock is held (a verb runs on it) or an operation is unfinished: not judged this pass. */
  busy: boolean;
  health?: HealthRow;
}

/**
 * The host's active tenants with their last health, in one query. `busy`: another session holds
 * the tenant's advisory lock (lockSpaces.tenant = 1, the key hashtext(id), as
 * AdminDb.tryLock takes it) or an operation of it is unfinished.
 */
export async function watchedTenants(db: AdminDb, host: string): Promise<WatchedTenant[]> {
  const { rows } = await db.pool.query(
    `SELECT c.id, c.plan, c.compose_project,
            EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 1 AND l.objsubid = 2
                      AND l.objid = (hashtext(c.id)::bigint & 4294967295)::oid AND l.pid <> pg_backend_pid())
            OR EXISTS (SELECT 1 FROM admin_operations o WHERE o.customer_id = c.id AND o.state = 'running') AS busy,
            h.state, h.since, h.checked_at, h.services, h.restart_attempts, h.next_restart_at
     FROM admin_customers c LEFT JOIN admin_tenant_health h ON h.customer_id = c.id
     WHERE c.host = $1 AND c.status = 'active' ORDER BY c.id`,
    [host],
  ).catch(db.unreachable);
  return rows.map((r) => ({
    id: r.id,
    plan: r.plan,
    composeProject: r.compose_project,
    busy: r.busy,
    health: r.state === null ? undefined : {
      customerId: r.id, state: r.state, since: new Date(r.since).getTime(), checkedAt: new Date(r.checked_at).getTime(), services: r.services,
      restartAttempts: r.restart_attempts, nextRestartAt: r.next_restart_at === null ? null : new Date(r.next_restart_at).getTime(),
    },
  }));
}

/**
 * Asked again, in the transaction that records a change, after the probe: whether the tenant is
 * still active here and no verb has taken it since the pass read the registry (a `stop` that
 * began meanwhile stopped its containers on purpose; it is not down).
 */
export async function stillWatched(client: pg.ClientBase, id: string, host: string): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT c.status = 'active' AND c.host = $2
            AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 1 AND l.objsubid = 2
                              AND l.objid = (hashtext(c.id)::bigint & 4294967295)::oid AND l.pid <> pg_backend_pid())
            AND NOT EXISTS (SELECT 1 FROM admin_operations o WHERE o.customer_id = c.id AND o.state = 'running') AS still
     FROM admin_customers c WHERE c.id = $1`,
    [id, host],
  );
  return rows[0]?.still === true;
}

/** Tenants no longer active (stopped, deprovisioned) lose their health row: not watched, no event. A moved tenant's row is its new host's. */
export async function forgetUnwatched(db: AdminDb): Promise<void> {
  await db.pool.query("DELETE FROM admin_tenant_health h USING admin_customers c WHERE c.id = h.customer_id AND c.status <> 'active'").catch(db.unreachable);
}

export async function saveHealth(client: pg.ClientBase, input: { id: string; state: TenantHealthState; changed: boolean; services: string[]; detail: Record<string, unknown> }): Promise<void> {
  await client.query(
    `INSERT INTO admin_tenant_health (customer_id, state, since, checked_at, services, detail) VALUES ($1, $2, now(), now(), $3, $4)
     ON CONFLICT (customer_id) DO UPDATE SET state = $2, checked_at = now(), services = $3, detail = $4,
       since = CASE WHEN $5 THEN now() ELSE admin_tenant_health.since END,
       restart_attempts = CASE WHEN $2 = 'ready' THEN 0 ELSE admin_tenant_health.restart_attempts END,
       next_restart_at = CASE WHEN $2 = 'ready' THEN NULL ELSE admin_tenant_health.next_restart_at END`,
    [input.id, input.state, input.services, JSON.stringify(input.detail), input.changed],
  );
}

/** Only the check time moves: one statement for every unchanged tenant of the pass. */
export async function touchHealth(db: AdminDb, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.pool.query('UPDATE admin_tenant_health SET checked_at = now() WHERE customer_id = ANY ($1)', [ids]).catch(db.unreachable);
}

export async function recordRestartAttempt(db: AdminDb, id: string, attempts: number, nextAt: Date): Promise<void> {
  await db.pool.query('UPDATE admin_tenant_health SET restart_attempts = $2, next_restart_at = $3 WHERE customer_id = $1', [id, attempts, nextAt]).catch(db.unreachable);
}

export async function recordEvent(client: pg.ClientBase, input: { tenant: string | null; host: string; kind: string; from?: string | null; to?: string | null; detail?: Record<string, unknown> }): Promise<void> {
  await client.query(
    'INSERT INTO admin_tenant_events (customer_id, host, kind, from_state, to_state, detail) VALUES ($1, $2, $3, $4, $5, $6)',
    [input.tenant, input.host, input.kind, input.from ?? null, input.to ?? null, JSON.stringify(input.detail ?? {})],
  );
}

/** Whether the host answered last time (undefined: never asked). */
export async function hostReachable(db: AdminDb, host: string): Promise<boolean | undefined> {
  const { rows } = await db.pool.query('SELECT reachable FROM admin_host_health WHERE host = $1', [host]).catch(db.unreachable);
  return rows[0]?.reachable;
}

export async function saveHostHealth(client: pg.ClientBase, host: string, reachable: boolean, error: string | null): Promise<void> {
  await client.query(
    `INSERT INTO admin_host_health (host, reachable, since, checked_at, last_error) VALUES ($1, $2, now(), now(), $3)
     ON CONFLICT (host) DO UPDATE SET checked_at = now(), last_error = $3,
       since = CASE WHEN admin_host_health.reachable <> $2 THEN now() ELSE admin_host_health.since END, reachable = $2`,
    [host, reachable, error],
  );
}
