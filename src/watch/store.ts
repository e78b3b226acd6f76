import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';
import type { RecordedHealth, TenantHealthState } from './classify.js';

// The watch's rows: admin_tenant_health (last state per tenant), admin_host_health (did the
// engine answer), admin_tenant_events (every transition, and auto-restarts). Every write of a
// state is a compare-and-set against what the pass read: two watchers (the agent and a
// `watch --once`) that saw the same change record it, and raise its alert, once.

export interface HealthRow extends RecordedHealth {
  customerId: string;
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
  profiles: string[];
  /** Its lock is held (a verb runs on it): not judged this pass. */
  busy: boolean;
  health?: HealthRow;
}

/**
 * Whether another session holds the tenant's advisory lock (lockSpaces.tenant = 1, the key
 * hashtext(id), as AdminDb.tryLock takes it). Only the lock says a verb is in flight, as
 * `operations` decides it: an operation row left `running` by a killed verb, with no lock held,
 * is interrupted, and its tenant is watched like any other (else it would be skipped for ever).
 */
const lockHeldSql = `EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 1 AND l.objsubid = 2
                      AND l.objid = (hashtext(c.id)::bigint & 4294967295)::oid AND l.pid <> pg_backend_pid())`;

/** The host's active tenants with their last health, in one query. */
export async function watchedTenants(db: AdminDb, host: string): Promise<WatchedTenant[]> {
  const { rows } = await db.pool.query(
    `SELECT c.id, c.plan, c.compose_project, c.profiles, ${lockHeldSql} AS busy,
            h.state, h.pending_state, h.pending_passes, h.since, h.checked_at, h.services, h.restart_attempts, h.next_restart_at
     FROM admin_customers c LEFT JOIN admin_tenant_health h ON h.customer_id = c.id
     WHERE c.host = $1 AND c.status = 'active' ORDER BY c.id`,
    [host],
  ).catch(db.unreachable);
  return rows.map((r) => ({
    id: r.id,
    plan: r.plan,
    composeProject: r.compose_project,
    profiles: r.profiles ?? [],
    busy: r.busy,
    health: r.state === null ? undefined : {
      customerId: r.id, state: r.state, pendingState: r.pending_state, pendingPasses: r.pending_passes,
      since: new Date(r.since).getTime(), checkedAt: new Date(r.checked_at).getTime(), services: r.services,
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
  const { rows } = await client.query(`SELECT c.status = 'active' AND c.host = $2 AND NOT ${lockHeldSql} AS still FROM admin_customers c WHERE c.id = $1`, [id, host]);
  return rows[0]?.still === true;
}

/** Tenants no longer active (stopped, deprovisioned) lose their health row: not watched, no event. A moved tenant's row is its new host's. */
export async function forgetUnwatched(db: AdminDb): Promise<void> {
  await db.pool.query("DELETE FROM admin_tenant_health h USING admin_customers c WHERE c.id = h.customer_id AND c.status <> 'active'").catch(db.unreachable);
}

/**
 * Writes the tenant's next recorded health only if the row is still what the pass read (`from`;
 * undefined: no row yet). False: another watcher wrote it first, and this pass records nothing
 * (no event, no alert) for the tenant.
 */
export async function saveHealth(
  client: pg.ClientBase,
  input: { id: string; from: RecordedHealth | undefined; next: RecordedHealth; changed: boolean; services: string[]; detail: Record<string, unknown> },
): Promise<boolean> {
  const { next } = input;
  if (!input.from) {
    const { rowCount } = await client.query(
      `INSERT INTO admin_tenant_health (customer_id, state, pending_state, pending_passes, since, checked_at, services, detail)
       VALUES ($1, $2, $3, $4, now(), now(), $5, $6) ON CONFLICT (customer_id) DO NOTHING`,
      [input.id, next.state, next.pendingState, next.pendingPasses, input.services, JSON.stringify(input.detail)],
    );
    return rowCount === 1;
  }
  const { rowCount } = await client.query(
    `UPDATE admin_tenant_health SET state = $2, pending_state = $3, pending_passes = $4, checked_at = now(), services = $5, detail = $6,
       since = CASE WHEN $7 THEN now() ELSE since END,
       restart_attempts = CASE WHEN $2 = 'ready' THEN 0 ELSE restart_attempts END,
       next_restart_at = CASE WHEN $2 = 'ready' THEN NULL ELSE next_restart_at END
     WHERE customer_id = $1 AND state = $8 AND pending_state IS NOT DISTINCT FROM $9 AND pending_passes = $10`,
    [input.id, next.state, next.pendingState, next.pendingPasses, input.services, JSON.stringify(input.detail), input.changed,
      input.from.state, input.from.pendingState, input.from.pendingPasses],
  );
  return rowCount === 1;
}

/** Only the check time moves: one statement for every unchanged tenant of the pass. */
export async function touchHealth(db: AdminDb, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.pool.query('UPDATE admin_tenant_health SET checked_at = now() WHERE customer_id = ANY ($1)', [ids]).catch(db.unreachable);
}

/**
 * Takes the restart attempt: counted and the next one set, only if the row still has the count
 * the pass read (false: another watcher took this attempt; this pass does not restart).
 */
export async function recordRestartAttempt(db: AdminDb, id: string, readAttempts: number, nextAt: Date): Promise<boolean> {
  const { rowCount } = await db.pool.query(
    "UPDATE admin_tenant_health SET restart_attempts = $2 + 1, next_restart_at = $3 WHERE customer_id = $1 AND restart_attempts = $2 AND state = 'down'",
    [id, readAttempts, nextAt],
  ).catch(db.unreachable);
  return rowCount === 1;
}

export async function recordEvent(client: pg.ClientBase, input: { tenant: string | null; host: string; kind: string; from?: string | null; to?: string | null; detail?: Record<string, unknown> }): Promise<void> {
  await client.query(
    'INSERT INTO admin_tenant_events (customer_id, host, kind, from_state, to_state, detail) VALUES ($1, $2, $3, $4, $5, $6)',
    [input.tenant, input.host, input.kind, input.from ?? null, input.to ?? null, JSON.stringify(input.detail ?? {})],
  );
}

export interface HostHealth {
  reachable: boolean;
  /** Passes in a row that saw the other answer. */
  pendingPasses: number;
}

/** What was recorded of the host (undefined: never asked). */
export async function hostHealth(db: AdminDb, host: string): Promise<HostHealth | undefined> {
  const { rows } = await db.pool.query('SELECT reachable, pending_passes FROM admin_host_health WHERE host = $1', [host]).catch(db.unreachable);
  return rows[0] ? { reachable: rows[0].reachable, pendingPasses: rows[0].pending_passes } : undefined;
}

/** Compare-and-set as saveHealth: false when another watcher wrote the row since `from` was read. */
export async function saveHostHealth(client: pg.ClientBase, host: string, from: HostHealth | undefined, next: HostHealth, error: string | null): Promise<boolean> {
  if (!from) {
    const { rowCount } = await client.query(
      'INSERT INTO admin_host_health (host, reachable, pending_passes, since, checked_at, last_error) VALUES ($1, $2, $3, now(), now(), $4) ON CONFLICT (host) DO NOTHING',
      [host, next.reachable, next.pendingPasses, error],
    );
    return rowCount === 1;
  }
  const { rowCount } = await client.query(
    `UPDATE admin_host_health SET checked_at = now(), last_error = $4, pending_passes = $3,
       since = CASE WHEN reachable <> $2 THEN now() ELSE since END, reachable = $2
     WHERE host = $1 AND reachable = $5 AND pending_passes = $6`,
    [host, next.reachable, next.pendingPasses, error, from.reachable, from.pendingPasses],
  );
  return rowCount === 1;
}
