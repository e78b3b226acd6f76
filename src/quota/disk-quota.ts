import type { Context } from '../context.js';
import type { Config } from '../config/schema.js';
import { messageOf } from '../common/errors.js';
import type { DockerHost } from '../engine/docker-host.js';
import { TenantRegistry, type TenantRecord } from '../tenants/registry.js';
import { parseSize } from './size.js';
import { volumeUsageOn } from './volume-usage.js';

// A plan's disk quota (plans.<plan>.diskQuota) against what a tenant's volumes hold: shown by
// `status` and asked by the agent (tenantsOverQuota, for its "disk over plan" alert). Measured, not
// enforced: Docker's local volumes have no size limit, and an over-quota tenant keeps running.

export interface DiskUsage {
  /** Bytes its volumes hold; null when not measured (a swarm host's volumes are on its nodes; a failed measurement). */
  usedBytes: number | null;
  /** Its plan's quota in bytes; null: no quota. */
  quotaBytes: number | null;
  over: boolean;
  /** Why it was not measured. */
  error?: string;
}

/**
 * Statuses whose tenant's volumes are measured. Not while provisioning or deprovisioning: their
 * volumes come and go under the verb, and a helper mounting one that was just removed would create
 * it again (empty) behind the verb's back.
 */
const withVolumes = new Set(['active', 'stopped', 'suspended']);

export function quotaOf(config: Config, plan: string): number | null {
  const raw = config.plans[plan as keyof Config['plans']]?.diskQuota;
  return raw === undefined ? null : parseSize(raw, `plans.${plan}.diskQuota`);
}

const verdict = (usedBytes: number | null, quotaBytes: number | null): DiskUsage => ({ usedBytes, quotaBytes, over: usedBytes !== null && quotaBytes !== null && usedBytes > quotaBytes });

/** One host's tenants measured in one helper run; a host that cannot be measured gives each of them its error. */
async function measureHost(ctx: Context, host: DockerHost, tenants: readonly TenantRecord[]): Promise<Map<string, DiskUsage>> {
  const result = new Map<string, DiskUsage>();
  if (host.kind === 'swarm') {
    for (const t of tenants) result.set(t.id, { ...verdict(null, quotaOf(ctx.config, t.plan)), error: `not measured: ${host.id} is a swarm, its volumes are on its nodes` });
    return result;
  }
  try {
    const usage = await volumeUsageOn(host, new Set(tenants.map((t) => t.composeProject)), { image: ctx.config.images.postgres, signal: ctx.signal });
    for (const t of tenants) result.set(t.id, verdict(usage.byProject.get(t.composeProject) ?? 0, quotaOf(ctx.config, t.plan)));
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    for (const t of tenants) result.set(t.id, { ...verdict(null, quotaOf(ctx.config, t.plan)), error: `not measured: ${messageOf(error)}` });
  }
  return result;
}

/**
 * One tenant's disk use against its plan's quota, on the command's Docker host (status): measured
 * when its plan has a quota, or `always`; else usedBytes is null ("not measured").
 */
export async function tenantDisk(ctx: Context, record: TenantRecord, { always = false }: { always?: boolean } = {}): Promise<DiskUsage> {
  const quota = quotaOf(ctx.config, record.plan);
  if (record.status === 'provisioning' || record.status === 'deprovisioning') return { ...verdict(null, quota), error: `not measured while ${record.status}` };
  if (!withVolumes.has(record.status)) return verdict(null, quota);
  if (quota === null && !always) return { ...verdict(null, null), error: 'not measured: no quota on its plan (tenantctl status --disk measures it)' };
  return (await measureHost(ctx, ctx.dockerHost, [record])).get(record.id)!;
}

export interface OverQuota {
  id: string;
  plan: string;
  host: string;
  usedBytes: number;
  quotaBytes: number;
}

export interface OverQuotaResult {
  over: OverQuota[];
  /** Hosts it could not measure, and why. */
  unmeasured: { host: string; reason: string }[];
}

/**
 * Every tenant whose volumes hold more than its plan's quota, across the hosts this environment
 * reaches: one measurement per host (only hosts with a tenant whose plan has a quota). For the
 * agent's alert; hosts it cannot measure are left out and named in `unmeasured`.
 */
export async function tenantsOverQuota(ctx: Context, { hostsNamed }: { hostsNamed?: (names: string[]) => Promise<Map<string, DockerHost>> } = {}): Promise<OverQuotaResult> {
  const rows = (await new TenantRegistry(await ctx.adminDb()).list()).filter((r) => withVolumes.has(r.status) && quotaOf(ctx.config, r.plan) !== null);
  const byHost = new Map<string, TenantRecord[]>();
  for (const row of rows) byHost.set(row.host, [...(byHost.get(row.host) ?? []), row]);
  const others = [...byHost.keys()].filter((name) => name !== ctx.dockerHost.id);
  const hosts = others.length > 0 && hostsNamed ? await hostsNamed(others) : new Map<string, DockerHost>();
  hosts.set(ctx.dockerHost.id, ctx.dockerHost);
  const over: OverQuota[] = [];
  const unmeasured: { host: string; reason: string }[] = [];
  await Promise.all([...byHost].map(async ([name, tenants]) => {
    const host = hosts.get(name);
    if (!host) return void unmeasured.push({ host: name, reason: 'not reachable from this environment' });
    const measured = await measureHost(ctx, host, tenants);
    for (const t of tenants) {
      const d = measured.get(t.id)!;
      if (d.error) unmeasured.push({ host: name, reason: d.error });
      else if (d.over) over.push({ id: t.id, plan: t.plan, host: name, usedBytes: d.usedBytes!, quotaBytes: d.quotaBytes! });
    }
  }));
  return { over: over.sort((a, b) => a.id.localeCompare(b.id)), unmeasured: [...new Map(unmeasured.map((u) => [u.host, u])).values()] };
}
