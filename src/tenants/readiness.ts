import { describeServices } from '../stack/template.js';
import { httpProbe, postgresLoginProbe, redisKeyProbe, redisPingProbe, type Probe } from '../stack/probes.js';
import type { ExpectedService } from '../stack/readiness.js';
import type { PortPlan } from '../allocation/ports.js';
import type { TenantSecrets } from '../secrets/generate.js';

/** The key the reference worker sets (with a 90 s TTL) on every beat: apps/tenant-app/heartbeat.ts. */
export const workerHeartbeatKey = 'tenantctl:worker:heartbeat';

/**
 * What "ready" means for each service of a tenant's stack, probed from outside through the ports
 * its Docker host publishes: PostgreSQL accepts a login as the app's own role, Redis answers AUTH and
 * PING, the app answers GET /api/ready, the worker has put its heartbeat in Redis. A service the
 * template has but this list does not know is judged by its container (and health check) alone.
 */
export function tenantReadiness(
  renderedCompose: string,
  { address, ports, secrets }: { address: string; ports: PortPlan; secrets: TenantSecrets },
): ExpectedService[] {
  const redis = { host: address, port: ports.redis, password: secrets.REDIS_PASSWORD };
  const probes: Record<string, Probe> = {
    db: postgresLoginProbe({ host: address, port: ports.db, user: 'tenant_app', password: secrets.APP_DB_PASSWORD, database: 'tenant' }),
    redis: redisPingProbe(redis),
    app: httpProbe(`http://${address}:${ports.app}/api/ready`),
    worker: redisKeyProbe(redis, workerHeartbeatKey, 'worker heartbeat in Redis'),
  };
  return describeServices(renderedCompose).map((service) => ({ ...service, probe: probes[service.name] }));
}
