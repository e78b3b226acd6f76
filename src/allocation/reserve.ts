import type pg from 'pg';
import { lockSpaces, type AdminDb } from '../admin-db/database.js';
import { recordAudit } from '../audit/write.js';
import type { PortPlan } from './ports.js';
import { claimEngine } from './host-engine.js';
import { ignoreFailure } from '../common/ignore-failure.js';

export interface Reservation {
  ports: PortPlan;
  subnet: string;
}

export interface HeldAllocations {
  ports: Set<number>;
  subnets: Set<string>;
}

/**
 * Reserves ports and a subnet for a tenant on one Docker host (admin_allocations). A
 * transaction-scoped lock serialises all allocations on one admin database, and the host check
 * (choose) runs inside it, so no two processes can choose the same free port; the primary key on
 * admin_allocations would refuse it anyway. `first` runs first in the same transaction (the tenant's
 * row is created there): a refused reservation (port taken, pool full) leaves no trace.
 *
 * `engineId`: the engine the host's name reaches now (DockerHost.engineId(), asked by the caller): one
 * engine, one name is checked, and an implicit host's engine recorded, in the same transaction
 * (host-engine.ts); a host known by another name refuses the reservation (exit 5).
 */
export async function reserve(
  db: AdminDb,
  id: string,
  host: string,
  choose: (held: HeldAllocations) => Promise<Reservation>,
  first?: (client: pg.PoolClient) => Promise<void>,
  /** The port the tenant's app (its front door) is reached at: recorded as app_port, which the front door routes to. */
  { appPort = 'app', engineId }: { appPort?: string; engineId?: Promise<string> } = {},
): Promise<Reservation> {
  // The engine's answer comes while the transaction starts and the ports are chosen; a failure is
  // reported where it is awaited (or not at all when the transaction fails first).
  engineId?.catch(ignoreFailure('reported where it is awaited, or moot when the transaction fails first'));
  return db.withTransaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [lockSpaces.allocation, host]);
    if (first) await first(client);
    const { rows } = await client.query('SELECT kind, value FROM admin_allocations WHERE host = $1 AND customer_id <> $2', [host, id]);
    const held = {
      ports: new Set(rows.filter((r) => r.kind === 'port').map((r) => Number(r.value))),
      subnets: new Set(rows.filter((r) => r.kind === 'subnet').map((r) => String(r.value))),
    };
    const reservation = await choose(held);
    if (engineId) await claimEngine(db, client, host, await engineId);
    // This host's only: during a move the source's stay held until the move is finished or undone.
    await client.query('DELETE FROM admin_allocations WHERE customer_id = $1 AND host = $2', [id, host]);
    for (const [purpose, port] of Object.entries(reservation.ports)) {
      await client.query('INSERT INTO admin_allocations (host, kind, value, customer_id, purpose) VALUES ($1, $2, $3, $4, $5)', [host, 'port', String(port), id, purpose]);
    }
    await client.query('INSERT INTO admin_allocations (host, kind, value, customer_id, purpose) VALUES ($1, $2, $3, $4, $5)', [host, 'subnet', reservation.subnet, id, 'network']);
    await client.query('UPDATE admin_customers SET app_port = $2, db_port = $3, redis_port = $4, subnet = $5, updated_at = now() WHERE id = $1', [
      // Kept for templates with ports of these names (crm), which other code and people read; NULL otherwise.
      id, reservation.ports[appPort] ?? null, reservation.ports.db ?? null, reservation.ports.redis ?? null, reservation.subnet,
    ]);
    await recordAudit(db, client, id, 'allocation.reserved', null, reservation);
    return reservation;
  });
}
