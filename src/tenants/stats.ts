import type { Context } from '../context.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { dockerStatsTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { containerStats, managedContainers, type RawStats, type ServiceContainer } from '../engine/docker.js';
import type { DockerHost } from '../engine/docker-host.js';
import { parseTenantId } from './input.js';
import { TenantRegistry, type TenantRecord } from './registry.js';

// `tenantctl stats`: what each tenant's containers use right now, per tenant and per service, from
// one `docker ps` (which containers are whose) and one `docker stats --no-stream` call per engine:
// the host's, or on a swarm every node's (a stack's containers are on its node; only the running
// ones count there, the ended tasks' containers swarm keeps are history, not services).

export type StatsSort = 'cpu' | 'memory' | 'name';
export const statsSorts: readonly StatsSort[] = ['cpu', 'memory', 'name'];

export interface Usage {
  /** Percent of one core (Docker's CPUPerc: 150 means one and a half cores). */
  cpuPercent: number;
  memory: { usedBytes: number; limitBytes: number; percent: number };
  network: { rxBytes: number; txBytes: number };
  blockIo: { readBytes: number; writeBytes: number };
  pids: number;
}

export interface ServiceStats extends Usage {
  service: string;
  container: string;
  /** running, or the container's state (its figures are then 0) */
  state: string;
}

export interface TenantStats {
  id: string;
  status: string;
  /** The tenant's services summed (memory limit: the sum of the services' limits). */
  total: Usage;
  services: ServiceStats[];
}

export interface StatsResult {
  sort: StatsSort;
  tenants: TenantStats[];
  sampledAt: string;
  /** On a swarm: the nodes not asked or not answering, each with why (their tenants' containers are missing from the figures). */
  unreachable?: string[];
}

export async function stats(ctx: Context, input: { ids?: string[]; sort?: string }): Promise<StatsResult> {
  const sort = (input.sort ?? 'cpu') as StatsSort;
  if (!statsSorts.includes(sort)) throw usageError(`--sort must be one of ${statsSorts.join(', ')}, not ${JSON.stringify(input.sort)}`);
  const ids = (input.ids ?? []).map((id) => parseTenantId(id));
  // On a swarm each node is asked on its own: one that is down, drained or unreachable is named in
  // the result (`unreachable`), and the others are still reported.
  const engines = ctx.dockerHost.kind === 'swarm'
    ? import('../swarm/swarm-stack.js').then(({ reachableNodeEngines }) => reachableNodeEngines(ctx.dockerHost, ctx.signal))
    : Promise.resolve({ engines: [{ node: ctx.dockerHost.id, host: ctx.dockerHost }], unreachable: [] as string[] });
  const containers = engines.then(async ({ engines: hosts, unreachable }) => {
    const settled = await Promise.allSettled(hosts.map(async ({ host }) => ({
      host, containers: (await managedContainers(host, { signal: ctx.signal })).filter((c) => host === ctx.dockerHost || c.state === 'running'),
    })));
    // Only a swarm's nodes are optional: the host's own engine failing is the command's error.
    if (ctx.dockerHost.kind !== 'swarm') for (const r of settled) if (r.status === 'rejected') throw r.reason;
    settled.forEach((r, i) => r.status === 'rejected' && unreachable.push(`${hosts[i]!.node}: ${messageOf(r.reason)}`));
    return { listed: settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])), unreachable };
  });
  containers.catch(ignoreFailure('awaited (and its error reported) below; this only keeps an early rejection from going unhandled'));
  const registry = new TenantRegistry(await ctx.adminDb());
  let records: TenantRecord[];
  if (ids.length > 0) {
    records = await Promise.all(ids.map((id) => registry.require(id)));
    const gone = records.find((r) => r.status === 'deprovisioned');
    if (gone) throw new TenantctlError('notFound', `tenant ${gone.id} is deprovisioned; it has no containers`);
  } else {
    records = (await registry.list()).filter((r) => r.status !== 'deprovisioned' && r.host === ctx.dockerHost.id);
  }

  // Only the projects on record: other tenantctl installations on the same engine (other prefixes,
  // other admin databases) label their containers the same way.
  const byProject = new Map(records.map((r) => [r.composeProject, r]));
  const { listed: engineLists, unreachable } = await containers;
  const perEngine = engineLists.map(({ host, containers: listed }) => ({ host, mine: listed.filter((c) => byProject.has(c.project)) }));
  const mine: ServiceContainer[] = perEngine.flatMap((e) => e.mine);
  const sampledAt = new Date(ctx.clock.now()).toISOString();
  const raw = (await Promise.all(perEngine.map(({ host, mine: theirs }) => sampleRunning(host, theirs, ctx.signal)))).flat();
  const rawById = new Map(raw.map((r) => [r.ID.slice(0, 12), r]));

  const tenants = records.map((record): TenantStats => {
    const services = mine
      .filter((c) => c.project === record.composeProject)
      .map((c): ServiceStats => {
        const r = rawById.get(c.id.slice(0, 12));
        return { service: c.service, container: c.name, state: c.state, ...(r && c.state === 'running' ? usageOf(r) : zeroUsage()) };
      });
    return { id: record.id, status: record.status, total: sum(services), services: sortBy(services, sort, (s) => s.service) };
  });
  return { sort, tenants: sortBy(tenants, sort, (t) => t.id), sampledAt, ...(unreachable.length ? { unreachable } : {}) };
}

function sampleRunning(host: DockerHost, containers: ServiceContainer[], signal?: AbortSignal): Promise<RawStats[]> {
  return containerStats(host, containers.filter((c) => c.state === 'running').map((c) => c.id), { timeoutMs: dockerStatsTimeoutMs, signal });
}

function sortBy<T extends { total?: Usage } & Partial<Usage>>(items: T[], sort: StatsSort, name: (item: T) => string): T[] {
  const usage = (item: T): Usage => (item.total ?? item) as Usage;
  const key = sort === 'cpu' ? (i: T) => usage(i).cpuPercent : (i: T) => usage(i).memory.usedBytes;
  return [...items].sort((a, b) => (sort === 'name' ? name(a).localeCompare(name(b)) : key(b) - key(a) || name(a).localeCompare(name(b))));
}

const zeroUsage = (): Usage => ({ cpuPercent: 0, memory: { usedBytes: 0, limitBytes: 0, percent: 0 }, network: { rxBytes: 0, txBytes: 0 }, blockIo: { readBytes: 0, writeBytes: 0 }, pids: 0 });

function sum(services: Usage[]): Usage {
  const total = zeroUsage();
  for (const s of services) {
    total.cpuPercent += s.cpuPercent;
    total.memory.usedBytes += s.memory.usedBytes;
    total.memory.limitBytes += s.memory.limitBytes;
    total.network.rxBytes += s.network.rxBytes;
    total.network.txBytes += s.network.txBytes;
    total.blockIo.readBytes += s.blockIo.readBytes;
    total.blockIo.writeBytes += s.blockIo.writeBytes;
    total.pids += s.pids;
  }
  total.cpuPercent = round(total.cpuPercent);
  total.memory.percent = total.memory.limitBytes > 0 ? round((total.memory.usedBytes / total.memory.limitBytes) * 100) : 0;
  return total;
}

/** Docker's formatted figures ("12.5MiB / 256MiB", "1.2kB / 0B", "3.41%") as numbers. */
export function usageOf(r: RawStats): Usage {
  const [memUsed, memLimit] = pair(r.MemUsage);
  const [rx, tx] = pair(r.NetIO);
  const [read, write] = pair(r.BlockIO);
  return {
    cpuPercent: percent(r.CPUPerc),
    memory: { usedBytes: memUsed, limitBytes: memLimit, percent: percent(r.MemPerc) },
    network: { rxBytes: rx, txBytes: tx },
    blockIo: { readBytes: read, writeBytes: write },
    pids: Number.parseInt(r.PIDs, 10) || 0,
  };
}

const round = (n: number) => Math.round(n * 100) / 100;
const percent = (text: string) => round(Number.parseFloat(text.replace('%', '')) || 0);
const pair = (text: string): [number, number] => {
  const [a = '', b = ''] = text.split('/');
  return [bytes(a), bytes(b)];
};

const units: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
};

/** "12.5MiB", "1.2kB", "0B", "--" as bytes (0 when Docker has no figure). */
export function bytes(text: string): number {
  const match = /^\s*([\d.]+)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return 0;
  const factor = units[(match[2] || 'b').toLowerCase()];
  return factor === undefined ? 0 : Math.round(Number(match[1]) * factor);
}
