import type { Context } from '../context.js';
import type { AdminDb } from '../admin-db/database.js';

/**
 * What every loop of the agent gets on each tick: tenantctl's own command context (the verbs a loop
 * runs take it: backupTenant, doctor, ...), the admin database opened with the agent's own role,
 * this host's name, whether this agent is its host's leader now, and where to log a line.
 */
export interface AgentContext {
  ctx: Context;
  db: AdminDb;
  /** The Docker host this agent serves (TENANTCTL_HOST_ID): tenants, schedules and leadership are per host. */
  hostId: string;
  /** Only the leader acts on its host (jobs, restarts); followers stand by. */
  isLeader(): boolean;
  log(line: string): void;
}
