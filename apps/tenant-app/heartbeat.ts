// Shared by the worker (writer) and healthcheck.ts (reader). Kept free of dependencies so the
// health-check bundle stays tiny.

export const heartbeatFile = '/tmp/tenantctl-worker-heartbeat';

/** A heartbeat older than this means the worker loop is stuck or dead. */
export const heartbeatMaxAgeMs = 5_000;

export interface Heartbeat {
  ok: boolean;
  /** Epoch milliseconds of the check. */
  at: number;
  error?: string;
}
