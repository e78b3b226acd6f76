import { parse } from 'yaml';
import { describeServices } from '../templates/render-compose.js';
import { httpProbe, postgresLoginProbe, redisHttpProbe, redisKeyProbe, redisPingProbe, tcpProbe, tcpInsideProbe, type Probe } from '../stack/probes.js';
import type { ExpectedService } from '../stack/readiness.js';
import type { PortPlan } from '../allocation/ports.js';
import type { TemplateBlock, ReadinessDeclaration } from '../templates/block-schema.js';
import { fillBlockText } from '../templates/values.js';

/** The key the reference worker sets (with a 90 s TTL) on every beat: apps/tenant-app/heartbeat.ts. */
export const workerHeartbeatKey = 'tenantctl:worker:heartbeat';

export interface ReadinessInput {
  address: string;
  ports: PortPlan;
  secrets: Readonly<Record<string, string>>;
  /** Profiles switched on for the tenant: a service of any other profile is not waited for. */
  profiles: readonly string[];
  /** Placeholder values for the block's own strings (a database name with {{tenant_id_underscored}}). */
  values: Readonly<Record<string, string>>;
  /**
   * Where to dial a port by name (stack/tenant-ports.ts: a relay through the engine for a port the
   * host does not publish); without it, `address` and the port's host port.
   */
  endpoint?: (name: string) => { host: string; port: number; socketPath?: string; acceptsInside?: (signal?: AbortSignal) => Promise<{ ok: boolean; why: string }> };
}

/** The port names a block's readiness probes dial. */
export function readinessPortNames(block: Pick<TemplateBlock, 'readiness'>): string[] {
  return Object.values(block.readiness).flatMap((check) => {
    if ('http' in check) return [check.http.port];
    if ('tcp' in check) return [check.tcp.port];
    if ('postgres' in check) return [check.postgres.port];
    if ('redis' in check) return [check.redis.port];
    if ('redisHttp' in check) return [check.redisHttp.port];
    return [];
  });
}

/**
 * What "ready" means for each service of a tenant's stack, as its template declares it
 * (x-tenantctl.readiness), probed from outside through the ports its Docker host publishes: crm's
 * PostgreSQL login as the app's own role, Redis AUTH and PING, the app's GET /api/ready, the worker's
 * heartbeat in Redis. A service declared `running: true` (or not declared, when it belongs to a
 * profile) is judged by its container alone; a service of a profile that is off is not expected.
 */
export function tenantReadiness(renderedCompose: string, block: Pick<TemplateBlock, 'readiness'>, input: ReadinessInput): ExpectedService[] {
  const tree = parse(renderedCompose, { merge: true, maxAliasCount: -1 }) as Record<string, Record<string, Record<string, unknown>>>;
  const on = new Set(input.profiles);
  return describeServices(renderedCompose)
    .filter((service) => {
      const profiles = tree.services?.[service.name]?.profiles;
      return !Array.isArray(profiles) || profiles.length === 0 || profiles.some((p) => on.has(String(p)));
    })
    .map((service) => {
      const check = block.readiness[service.name];
      if (!check) return service;
      if ('running' in check) return { ...service, hasHealthcheck: false };
      return { ...service, probe: probeFor(check, input) };
    });
}

function probeFor(check: Exclude<ReadinessDeclaration, { running: true }>, { address, ports, secrets, values, endpoint }: ReadinessInput): Probe {
  const dial = (name: string) => {
    const value = ports[name];
    if (value === undefined) throw new Error(`readiness names port ${name}, which the tenant has not been given`);
    return endpoint ? endpoint(name) : { host: address, port: value };
  };
  const secret = (name: string) => {
    const value = secrets[name];
    if (value === undefined) throw new Error(`readiness names secret ${name}, which the tenant does not have`);
    return value;
  };
  // A relay's socket (a port reached through the engine): the URL names the container's port only for the Host header.
  const url = (name: string) => {
    const end: { host: string; port: number; socketPath?: string } = dial(name);
    return { base: end.socketPath ? `http://localhost:${end.port}` : `http://${end.host}:${end.port}`, socketPath: end.socketPath };
  };
  if ('http' in check) {
    const { base, socketPath } = url(check.http.port);
    return httpProbe(`${base}${check.http.path}`, check.http.status, socketPath);
  }
  if ('tcp' in check) {
    const end = dial(check.tcp.port) as { host: string; port: number; acceptsInside?: (signal?: AbortSignal) => Promise<{ ok: boolean; why: string }> };
    // A tunnelled port: its local listener always accepts, so the check runs inside the container.
    return end.acceptsInside ? tcpInsideProbe(ports[check.tcp.port]!, end.acceptsInside) : tcpProbe(end.host, end.port);
  }
  if ('postgres' in check) {
    const p = check.postgres;
    return postgresLoginProbe({ ...dial(p.port), user: p.user, password: secret(p.passwordSecret), database: fillBlockText(p.database, values) });
  }
  if ('redis' in check) {
    const redis = { ...dial(check.redis.port), password: secret(check.redis.passwordSecret) };
    return check.redis.key ? redisKeyProbe(redis, check.redis.key, `${check.redis.key} in Redis`) : redisPingProbe(redis);
  }
  const { base, socketPath } = url(check.redisHttp.port);
  return redisHttpProbe(base, secret(check.redisHttp.tokenSecret), socketPath);
}

