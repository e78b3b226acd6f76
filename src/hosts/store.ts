import { TenantctlError } from '../common/errors.js';
import type pg from 'pg';
import { lockSpaces, type AdminDb } from '../admin-db/database.js';
import { recordAudit } from '../audit/write.js';
import { isoOrNull } from '../admin-db/customers.js';
import { planResources } from '../templates/plans.js';
import type { Plan } from '../tenants/input.js';
import { parseMemory } from './memory.js';
import { hostsOfEngine, isEngineTaken, lockEngine } from '../allocation/host-engine.js';

// The Docker hosts of the fleet (admin_hosts, migration 009): their rows, their states and the
// tenants each one holds. Every change runs in one transaction with its audit row.

/** A placement whose tenant has no row after this long is a provision that died before reserving anything. */
export const placementTtlMinutes = 15;

export type HostKind = 'compose' | 'swarm';
export type HostState = 'active' | 'draining' | 'removed';

export interface HostRecord {
  name: string;
  /** NULL: an implicit host, reached through the environment (DOCKER_HOST) of the tenantctl using it. */
  endpoint: string | null;
  kind: HostKind;
  tls: { ca: string; cert: string; key: string } | null;
  state: HostState;
  /** The engine's own ID (docker info .ID, migration 012); null until learned (hosts from before it, an implicit host nothing was reserved on since). */
  engineId: string | null;
  /** Where its tenants' front-door port is published (hosts add --publish-address, migration 016); null: the engine URL's IP. */
  publishAddress: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What a host holds: its live tenants (not deprovisioned) and the memory their plans promise. */
export interface HostLoad {
  tenants: number;
  promisedMemoryBytes: number;
}

const toRecord = (row: any): HostRecord => ({
  name: row.name,
  endpoint: row.docker_endpoint,
  kind: row.kind,
  tls: row.tls_ca ? { ca: row.tls_ca, cert: row.tls_cert, key: row.tls_key } : null,
  state: row.state,
  engineId: row.engine_id ?? null,
  publishAddress: row.publish_address ?? null,
  createdAt: isoOrNull(row.created_at)!,
  updatedAt: isoOrNull(row.updated_at)!,
});

/** The memory a plan's containers may use together: what placement by memory counts as taken. */
export function planMemoryBytes(plan: string): number {
  const resources = planResources[plan as Plan] ?? planResources.standard;
  return ['app_memory', 'worker_memory', 'db_memory', 'redis_memory'].reduce((sum, key) => sum + parseMemory(resources[key] ?? '0'), 0);
}

export class HostStore {
  constructor(readonly db: AdminDb) {}

  async list(): Promise<HostRecord[]> {
    const { rows } = await this.db.pool.query('SELECT * FROM admin_hosts ORDER BY name').catch(this.db.unreachable);
    return rows.map(toRecord);
  }

  async get(name: string): Promise<HostRecord | undefined> {
    const { rows } = await this.db.pool.query('SELECT * FROM admin_hosts WHERE name = $1', [name]).catch(this.db.unreachable);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async require(name: string): Promise<HostRecord> {
    const host = await this.get(name);
    if (!host || host.state === 'removed') throw new TenantctlError('notFound', `no Docker host ${name} in the fleet (tenantctl hosts list)`);
    return host;
  }

  /** Live tenants and promised memory per host name (`excluding` tenants counted elsewhere); hosts without tenants are absent. */
  /**
   * Each host's live tenants and the memory their plans promise, with the placements other
   * commands made whose tenants have no live row yet (admin_placements younger than
   * placementTtlMinutes). Read in the placing transaction, under the placement lock.
   */
  async loadsIn(client: pg.ClientBase): Promise<Map<string, HostLoad>> {
    const loads = new Map<string, HostLoad>();
    const add = (host: string, tenants: number, bytes: number) => {
      const load = loads.get(host) ?? { tenants: 0, promisedMemoryBytes: 0 };
      load.tenants += tenants;
      load.promisedMemoryBytes += bytes;
      loads.set(host, load);
    };
    const tenants = await client.query("SELECT host, plan, count(*)::int AS n FROM admin_customers WHERE status <> 'deprovisioned' GROUP BY host, plan");
    for (const row of tenants.rows) add(row.host, row.n, row.n * planMemoryBytes(row.plan));
    const pending = await client.query(
      `SELECT host, count(*)::int AS n, sum(memory_bytes)::bigint AS bytes FROM admin_placements p
        WHERE p.placed_at > now() - make_interval(mins => $1)
          AND NOT EXISTS (SELECT 1 FROM admin_customers c WHERE c.id = p.customer_id AND c.status <> 'deprovisioned')
        GROUP BY host`,
      [placementTtlMinutes],
    );
    for (const row of pending.rows) add(row.host, row.n, Number(row.bytes));
    return loads;
  }

  /** loadsIn, on its own (hosts list). */
  async loads(): Promise<Map<string, HostLoad>> {
    return this.db.withTransaction((client) => this.loadsIn(client));
  }

  /**
   * A placement, recorded in the transaction that chose it (so the next placement, in any process,
   * counts it); the lock and the loads come first (placeUnderLock). Old rows go on the way.
   */
  async recordPlacement(client: pg.ClientBase, id: string, host: string, memoryBytes: number): Promise<void> {
    await client.query('DELETE FROM admin_placements WHERE placed_at <= now() - make_interval(mins => $1)', [placementTtlMinutes]);
    await client.query(
      `INSERT INTO admin_placements (customer_id, host, memory_bytes) VALUES ($1, $2, $3)
       ON CONFLICT (customer_id) DO UPDATE SET host = EXCLUDED.host, memory_bytes = EXCLUDED.memory_bytes, placed_at = now()`,
      [id, host, memoryBytes],
    );
  }

  /** The command that placed these tenants has ended: a placement whose provision failed before its row existed counts no more. */
  async forgetPlacements(ids: readonly string[]): Promise<void> {
    await this.db.pool.query('DELETE FROM admin_placements WHERE customer_id = ANY($1::text[])', [ids]).catch(this.db.unreachable);
  }

  /** Every placement reads loads and records its choice under one lock: two never choose on the same counts. */
  async placeUnderLock<T>(choose: (client: pg.ClientBase, loads: Map<string, HostLoad>) => Promise<T> | T): Promise<T> {
    return this.db.withTransaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [lockSpaces.allocation, 'placement']);
      return choose(client, await this.loadsIn(client));
    });
  }

  /** The ids of the tenants recorded on a host that are not deprovisioned. */
  async liveTenants(name: string): Promise<string[]> {
    const { rows } = await this.db.pool.query("SELECT id FROM admin_customers WHERE host = $1 AND status <> 'deprovisioned' ORDER BY id", [name]).catch(this.db.unreachable);
    return rows.map((r) => r.id as string);
  }

  /**
   * Records a new host with the engine ID its engine said. An implicit row of the same name (a host
   * tenants were recorded on before it was registered) gets its endpoint; any other existing host,
   * and an engine already in the fleet under another name, is a conflict (exit 5).
   */
  async add(input: { name: string; endpoint: string; kind: HostKind; tls: HostRecord['tls']; engineId: string; publishAddress?: string | null }): Promise<HostRecord> {
    return this.db.withTransaction(async (client) => {
      await lockEngine(client, input.engineId);
      const before = (await client.query('SELECT * FROM admin_hosts WHERE name = $1 FOR UPDATE', [input.name])).rows[0];
      if (before && before.docker_endpoint !== null && before.state !== 'removed') {
        throw new TenantctlError('conflict', `Docker host ${input.name} is already in the fleet (${before.docker_endpoint}); remove it first to change its endpoint`);
      }
      const [other] = await hostsOfEngine(client, input.engineId, input.name);
      if (other !== undefined) throw engineRegistered(input, other);
      // An implicit row that learned its engine from a reservation: the endpoint must reach that engine, where its tenants are.
      if (before?.engine_id && before.state !== 'removed' && before.engine_id !== input.engineId) {
        throw new TenantctlError('conflict', `${input.endpoint} reaches engine ${input.engineId}, but Docker host ${input.name} is recorded as engine ${before.engine_id}, where its tenants live; nothing was recorded`);
      }
      const { rows } = await client.query(
        `INSERT INTO admin_hosts (name, docker_endpoint, kind, tls_ca, tls_cert, tls_key, engine_id, publish_address)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (name) DO UPDATE SET docker_endpoint = $2, kind = $3, tls_ca = $4, tls_cert = $5, tls_key = $6, engine_id = $7, publish_address = $8, state = 'active', updated_at = now()
         RETURNING *`,
        [input.name, input.endpoint, input.kind, input.tls?.ca ?? null, input.tls?.cert ?? null, input.tls?.key ?? null, input.engineId, input.publishAddress ?? null],
      ).catch((error: unknown) => {
        if (isEngineTaken(error)) throw engineRegistered(input, 'another name', 'just now, by another tenantctl process; ');
        throw error;
      });
      await recordAudit(this.db, client, null, 'host.added', before ? describe(before) : null, describe(rows[0]));
      return toRecord(rows[0]);
    });
  }

  async setState(name: string, state: 'active' | 'draining'): Promise<{ host: HostRecord; changed: boolean }> {
    return this.db.withTransaction(async (client) => {
      const before = (await client.query('SELECT * FROM admin_hosts WHERE name = $1 FOR UPDATE', [name])).rows[0];
      if (!before || before.state === 'removed') throw new TenantctlError('notFound', `no Docker host ${name} in the fleet (tenantctl hosts list)`);
      if (before.state === state) return { host: toRecord(before), changed: false };
      const { rows } = await client.query('UPDATE admin_hosts SET state = $2, updated_at = now() WHERE name = $1 RETURNING *', [name, state]);
      await recordAudit(this.db, client, null, state === 'draining' ? 'host.drained' : 'host.activated', describe(before), describe(rows[0]));
      return { host: toRecord(rows[0]), changed: true };
    });
  }

  /**
   * Removes a host from the fleet; refused (exit 5) while tenants that are not deprovisioned are
   * recorded on it. Rows of deprovisioned tenants keep the history, so a host they name stays as
   * 'removed' (never placed on, not listed); one no row names is deleted.
   */
  async remove(name: string): Promise<{ outcome: 'deleted' | 'retired' }> {
    return this.db.withTransaction(async (client) => {
      const before = (await client.query('SELECT * FROM admin_hosts WHERE name = $1 FOR UPDATE', [name])).rows[0];
      if (!before || before.state === 'removed') throw new TenantctlError('notFound', `no Docker host ${name} in the fleet (tenantctl hosts list)`);
      // FOR SHARE: a provision recording a tenant on this host meanwhile waits, then sees the host gone.
      const { rows: tenants } = await client.query('SELECT id, status FROM admin_customers WHERE host = $1 ORDER BY id FOR SHARE', [name]);
      const live = tenants.filter((t) => t.status !== 'deprovisioned').map((t) => t.id as string);
      if (live.length > 0) {
        const shown = live.slice(0, 5).join(', ') + (live.length > 5 ? ` and ${live.length - 5} more` : '');
        throw new TenantctlError('conflict', `Docker host ${name} still holds ${live.length} tenant(s): ${shown}; move them (tenantctl move <id> --to <host>) or deprovision them first`);
      }
      // Operations' journal rows (and moves' from before it) name hosts too: history, like deprovisioned tenants' rows.
      const { rows: moves } = await client.query(
        "SELECT 1 FROM admin_tenant_moves WHERE source_host = $1 OR target_host = $1 UNION ALL SELECT 1 FROM admin_operations WHERE host = $1 OR data->>'targetHost' = $1 LIMIT 1",
        [name],
      );
      const named = tenants.length > 0 || moves.length > 0;
      if (!named) await client.query('DELETE FROM admin_hosts WHERE name = $1', [name]);
      else await client.query("UPDATE admin_hosts SET state = 'removed', updated_at = now() WHERE name = $1", [name]);
      await client.query('DELETE FROM admin_allocations WHERE host = $1', [name]);
      await recordAudit(this.db, client, null, 'host.removed', describe(before), null);
      return { outcome: named ? 'retired' : 'deleted' };
    });
  }
}

/** A host row for the audit log: where and how, never more than file paths for TLS. */
function describe(row: any) {
  return { name: row.name, docker_endpoint: row.docker_endpoint, kind: row.kind, tls: row.tls_ca ? { ca: row.tls_ca, cert: row.tls_cert, key: row.tls_key } : null, state: row.state, engine_id: row.engine_id ?? null };
}

/** Exit 5: one engine, one name (a socket and tcp, or tcp and ssh, to one daemon are one engine). */
export function engineRegistered(input: { name: string; endpoint: string; engineId: string }, other: string, note = ''): TenantctlError {
  return new TenantctlError('conflict', `${input.endpoint} reaches the engine already registered as Docker host ${other} (${note}engine ID ${input.engineId}): one engine, one name; nothing was recorded for ${input.name}`);
}
