import { access, constants } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import * as z from 'zod/mini';
import '../common/zod.js';
import type { Context } from '../context.js';
import { TenantctlError, usageError } from '../common/errors.js';
import { parseOrUsage } from '../tenants/input.js';
import { parseDockerEndpoint } from '../engine/docker-host.js';
import { HostStore, engineRegistered, type HostKind, type HostRecord } from './store.js';
import { hostUsage, probeHost, type HostProbe } from './probe.js';
import { hostProbeTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { dockerHostFor } from './resolve.js';
import { freeMemory } from './placement.js';

// `tenantctl hosts add|list|drain|activate|remove`: the fleet of Docker hosts tenants are placed on.

export const hostNameSchema = z.string().check(
  z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'must be 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit'),
);

export interface HostAddResult {
  host: HostRecord;
  engineVersion: string;
  engineId: string;
  cpus: number;
  memoryBytes: number;
}

/**
 * Registers a host once its engine has answered: exit 6 when it does not, and nothing is recorded.
 * Its engine ID is recorded with it; an engine already in the fleet under another name (this
 * environment's own included) is refused, exit 5: one engine, one name.
 */
export async function hostsAdd(ctx: Context, input: { name: unknown; docker: unknown; swarm?: boolean; tlsCa?: string; tlsCert?: string; tlsKey?: string; publishAddress?: string }): Promise<HostAddResult> {
  const name = parseOrUsage(hostNameSchema, input.name, 'host name');
  if (typeof input.docker !== 'string' || input.docker === '') throw usageError('--docker <endpoint> is required: unix:///path, tcp://host:port or ssh://user@host');
  const endpoint = parseDockerEndpoint(input.docker);
  if (endpoint.kind === 'local') throw usageError('--docker <endpoint> is required');
  const tlsGiven = [input.tlsCa, input.tlsCert, input.tlsKey].filter((f) => f !== undefined).length;
  if (tlsGiven !== 0 && tlsGiven !== 3) throw usageError('TLS needs all three of --tls-ca, --tls-cert and --tls-key');
  if (tlsGiven === 3 && endpoint.kind !== 'tcp') throw usageError('--tls-* applies to tcp:// endpoints only');
  const tls = tlsGiven === 3 ? { ca: path.resolve(input.tlsCa!), cert: path.resolve(input.tlsCert!), key: path.resolve(input.tlsKey!) } : null;
  for (const file of tls ? [tls.ca, tls.cert, tls.key] : []) {
    await access(file, constants.R_OK).catch(() => {
      throw usageError(`${file} cannot be read`);
    });
  }
  const kind: HostKind = input.swarm ? 'swarm' : 'compose';
  const publishAddress = input.publishAddress === undefined ? null : input.publishAddress.replace(/^\[(.*)\]$/, '$1');
  if (publishAddress !== null && !isIP(publishAddress)) throw usageError(`--publish-address ${JSON.stringify(input.publishAddress)}: expected an IP address of the host (0.0.0.0: every interface)`);
  if (publishAddress !== null && kind === 'swarm') throw usageError('--publish-address does not apply to a swarm: Docker publishes a swarm task\'s port in host mode on all of its node\'s interfaces (README, Remote engines and Docker Swarm)');
  const db = await ctx.adminDb();
  const store = new HostStore(db);
  const existing = await store.get(name);
  if (existing?.endpoint && existing.state !== 'removed') throw new TenantctlError('conflict', `Docker host ${name} is already in the fleet (${existing.endpoint})`);

  // Asked before anything is recorded: a typo in the endpoint must not become a host.
  const candidate: HostRecord = { name, endpoint: input.docker, kind, tls, state: 'active', engineId: null, publishAddress, createdAt: '', updatedAt: '' };
  const host = name === ctx.dockerHost.id ? undefined : await dockerHostFor(ctx, candidate);
  if (!host) throw new TenantctlError('conflict', `${name} is this environment's own Docker host (TENANTCTL_HOST_ID); register others under other names`);
  // This environment's own engine is asked at the same time: its implicit host may not have
  // recorded its ID yet (nothing reserved on it since migration 012). Not answering: not compared.
  const [probe, ownEngine] = await Promise.all([
    probeHost(host, ctx.signal),
    ctx.dockerHost.engineId({ signal: ctx.signal, timeoutMs: hostProbeTimeoutMs }).catch(ignoreFailure("this environment's engine not answering: its ID is not compared")),
  ]);
  if (!probe.reachable) throw new TenantctlError('docker', `Docker host ${name} (${input.docker}) does not answer: ${probe.error}; nothing was recorded`);
  if (!probe.engineId) throw new TenantctlError('docker', `Docker host ${name} (${input.docker}) did not say its engine ID (docker info .ID); nothing was recorded`);
  if (probe.engineId === ownEngine) throw engineRegistered({ name, endpoint: input.docker, engineId: probe.engineId }, ctx.dockerHost.id, "this environment's own, TENANTCTL_HOST_ID; ");
  if (kind === 'swarm' && probe.swarm !== 'active') throw new TenantctlError('usage', `Docker host ${name} is not in a swarm (docker info says "${probe.swarm || 'inactive'}"); --swarm needs a swarm manager`);
  const record = await store.add({ name, endpoint: input.docker, kind, tls, engineId: probe.engineId, publishAddress });
  return { host: record, engineVersion: probe.engineVersion, engineId: probe.engineId, cpus: probe.cpus, memoryBytes: probe.memoryBytes };
}

export interface HostListEntry {
  name: string;
  endpoint: string | null;
  kind: HostKind;
  state: HostRecord['state'];
  /** This environment's own host (DOCKER_HOST, TENANTCTL_HOST_ID). */
  current: boolean;
  /** undefined: an implicit host of another environment, which only its own tenantctl can reach. */
  reachable: boolean | undefined;
  error?: string;
  engineVersion?: string;
  /** The engine's own ID as it says now (docker info .ID): two names with one ID are one engine. */
  engineId?: string;
  tenants: number;
  cpus?: number;
  memoryBytes?: number;
  /** Memory the plans of its tenants promise them, and what is left of the engine's. */
  promisedMemoryBytes: number;
  freeMemoryBytes?: number;
  /** What its running containers use now (docker stats), unless --no-usage. */
  usage?: { cpuPercent: number; memoryBytes: number; containers: number };
  latencyMs?: number;
}

export interface HostListResult {
  hosts: HostListEntry[];
  durationMs: number;
}

/** Every host asked at once, each with a short timeout: one that is down costs seconds, not the list. */
export async function hostsList(ctx: Context, input: { usage?: boolean } = {}): Promise<HostListResult> {
  const started = ctx.clock.now();
  const store = new HostStore(await ctx.adminDb());
  const [records, loads] = await Promise.all([store.list(), store.loads()]);
  const visible = records.filter((r) => r.state !== 'removed');
  if (!visible.some((r) => r.name === ctx.dockerHost.id)) {
    visible.unshift({ name: ctx.dockerHost.id, endpoint: null, kind: 'compose', tls: null, state: 'active', engineId: null, publishAddress: null, createdAt: '', updatedAt: '' });
  }
  const hosts = await Promise.all(visible.map(async (record): Promise<HostListEntry> => {
    const load = loads.get(record.name) ?? { tenants: 0, promisedMemoryBytes: 0 };
    const current = record.name === ctx.dockerHost.id;
    const base = { name: record.name, endpoint: current && !record.endpoint ? endpointOf(ctx) : record.endpoint, kind: record.kind, state: record.state, current, tenants: load.tenants, promisedMemoryBytes: load.promisedMemoryBytes };
    const host = await dockerHostFor(ctx, record);
    if (!host) return { ...base, reachable: undefined, error: 'implicit host of another environment (no endpoint registered)' };
    const probe: HostProbe = await probeHost(host, ctx.signal);
    if (!probe.reachable) return { ...base, reachable: false, error: probe.error, latencyMs: Math.round(probe.latencyMs) };
    const usage = input.usage === false ? undefined : await hostUsage(host, ctx.signal);
    return {
      ...base, reachable: true, engineVersion: probe.engineVersion, engineId: probe.engineId || undefined, cpus: probe.cpus, memoryBytes: probe.memoryBytes,
      freeMemoryBytes: freeMemory({ memoryBytes: probe.memoryBytes, promisedMemoryBytes: load.promisedMemoryBytes }), usage, latencyMs: Math.round(probe.latencyMs),
    };
  }));
  return { hosts, durationMs: ctx.clock.now() - started };
}

const endpointOf = (ctx: Context) => (ctx.dockerHost.endpoint.kind === 'local' ? 'local' : ctx.dockerHost.endpoint.url);

export interface HostStateResult {
  name: string;
  state: 'active' | 'draining';
  changed: boolean;
  tenants: number;
}

/** draining: the host keeps its tenants and serves them, but placement puts no new one there. */
export async function hostsSetState(ctx: Context, input: { name: unknown; state: 'active' | 'draining' }): Promise<HostStateResult> {
  const name = parseOrUsage(hostNameSchema, input.name, 'host name');
  const store = new HostStore(await ctx.adminDb());
  const { changed } = await store.setState(name, input.state);
  return { name, state: input.state, changed, tenants: (await store.liveTenants(name)).length };
}

export interface HostRemoveResult {
  name: string;
  outcome: 'deleted' | 'retired';
}

/** Refused (exit 5) while tenants remain on the host; the engine itself is not touched. */
export async function hostsRemove(ctx: Context, input: { name: unknown }): Promise<HostRemoveResult> {
  const name = parseOrUsage(hostNameSchema, input.name, 'host name');
  const { outcome } = await new HostStore(await ctx.adminDb()).remove(name);
  return { name, outcome };
}
