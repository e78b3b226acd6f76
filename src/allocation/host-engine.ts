import type pg from 'pg';
import { lockSpaces, type AdminDb } from '../admin-db/database.js';
import { recordAudit } from '../audit/write.js';
import { TenantctlError } from '../common/errors.js';

// One engine, one name (admin_hosts.engine_id, migration 012). Allocations, compose projects and
// doctor's judgement are keyed by the host's name; an engine known under two names would have its
// ports handed out twice and a live tenant's stack taken for another host's leftovers.

/** The other hosts of the fleet (not removed) recorded with this engine ID. */
export async function hostsOfEngine(client: pg.ClientBase, engineId: string, except: string): Promise<string[]> {
  const { rows } = await client.query("SELECT name FROM admin_hosts WHERE engine_id = $1 AND name <> $2 AND state <> 'removed' ORDER BY name", [engineId, except]);
  return rows.map((r) => r.name as string);
}

/** Serialises two transactions recording the same engine (under two names): the second sees the first. */
export async function lockEngine(client: pg.ClientBase, engineId: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [lockSpaces.allocation, `engine ${engineId}`]);
}

/** A unique violation of admin_hosts_engine_id_idx: a race lockEngine did not cover (an older tenantctl). */
export const isEngineTaken = (error: unknown) => (error as { code?: string; constraint?: string })?.code === '23505' && /engine_id/.test(String((error as { constraint?: string }).constraint ?? (error as Error).message));

/**
 * Inside a reservation's transaction: the engine the tenant's stack goes to must be known by this
 * host's name only. The first reservation on an implicit host (the environment's own,
 * TENANTCTL_HOST_ID) records its engine ID; later ones check it. Exit 5, nothing reserved, when
 * another host name holds this engine, or this name was recorded with another engine (a renamed
 * or reinstalled machine, two machines with one hostname).
 */
export async function claimEngine(db: Pick<AdminDb, 'actor'>, client: pg.ClientBase, host: string, engineId: string): Promise<void> {
  await lockEngine(client, engineId);
  const own = (await client.query('SELECT name, docker_endpoint, engine_id FROM admin_hosts WHERE name = $1 FOR UPDATE', [host])).rows[0];
  const [other] = await hostsOfEngine(client, engineId, host);
  const how = own?.docker_endpoint ? `Docker host ${host} (${own.docker_endpoint})` : `DOCKER_HOST (TENANTCTL_HOST_ID=${host})`;
  if (other !== undefined) {
    throw new TenantctlError('conflict', `${how} reaches the engine registered as Docker host ${other} (engine ID ${engineId}): set TENANTCTL_HOST_ID=${other} (one engine, one name); nothing was reserved`);
  }
  // No row: nothing names this host yet; the trigger makes one with the tenant's row, which comes first.
  if (!own || own.engine_id === engineId) return;
  if (own.engine_id !== null) {
    throw new TenantctlError('conflict', `${how} reaches engine ${engineId}, but Docker host ${host} is recorded as engine ${own.engine_id}, where its tenants live: set TENANTCTL_HOST_ID to this engine's own name (one engine, one name); nothing was reserved`);
  }
  await client.query('UPDATE admin_hosts SET engine_id = $2, updated_at = now() WHERE name = $1', [host, engineId]).catch((error: unknown) => {
    if (isEngineTaken(error)) throw new TenantctlError('conflict', `${how} reaches engine ${engineId}, which another tenantctl process just recorded under another host name (one engine, one name); nothing was reserved`, { cause: error });
    throw error;
  });
  await recordAudit(db, client, null, 'host.engine-recorded', { name: host, engine_id: null }, { name: host, engine_id: engineId });
}
