import type { Context } from '../context.js';
import type { AdminDb } from '../admin-db/database.js';
import type { LeaderSession } from '../schedules/store.js';

/** What a loop needs of the host's leadership (leader.ts): its term's signal, session and in-flight count. */
export interface TermOfLeadership {
  readonly session: LeaderSession | undefined;
  readonly termSignal: AbortSignal | undefined;
  during<T>(work: () => Promise<T>): Promise<T>;
}

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
  /** The host's leadership as this agent holds it: its term's signal, its session (the fence of claims). */
  leadership: TermOfLeadership;
  log(line: string): void;
}
