// The worker's heartbeat, in two places:
//
// - Redis key `tenantctl:worker:heartbeat` (HEARTBEAT_KEY): on every successful beat the worker
//   runs `SET tenantctl:worker:heartbeat <epoch ms> PX 90000`. A successful beat means the worker
//   reached both PostgreSQL (SELECT 1) and Redis. tenantctl probes it from outside the containers
//   (the tenant's published Redis port, AUTH with REDIS_PASSWORD, GET): present means the worker
//   has beaten within the last 90 s; the value says when. The key expires by itself when the
//   worker stops or cannot reach the database.
// - The file /tmp/tenantctl-worker-heartbeat, touched on the same beats, for the container
//   health check (healthcheck.sh compares its mtime with the clock: no node process per check).
//
// Kept free of dependencies.

export const heartbeatKey = 'tenantctl:worker:heartbeat';
export const heartbeatTtlMs = 90_000;
export const heartbeatFile = '/tmp/tenantctl-worker-heartbeat';

/** The beat at rest. Container health checks run every 30 s and accept a file up to 60 s old. */
export const heartbeatIntervalMs = 15_000;

