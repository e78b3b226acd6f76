import type { Context } from '../context.js';
import { TenantRegistry, type TenantRecord, type TenantStatus } from './registry.js';
import { liveStatesByProject, type LiveState } from '../stack/project-state.js';
import { usageError } from '../common/errors.js';
import { hostProbeTimeoutMs } from '../common/timeouts.js';
import { failureMeans } from '../common/ignore-failure.js';
import type { DockerHost } from '../engine/docker-host.js';

const statuses: TenantStatus[] = ['provisioning', 'active', 'stopped', 'suspended', 'failed', 'deprovisioning', 'deprovisioned'];

/**
 * A registry row beside what Docker runs for it, so drift (an active tenant that is stopped or gone)
 * shows. A tenant stopped with `tenantctl stop` has status `stopped`: its stopped containers are not drift.
 */
export type ListedTenant = TenantRecord & {
  /** unreachable: its Docker host did not answer within hostProbeTimeoutMs; unknown: not asked (no endpoint here). */
  live: LiveState | 'unknown' | 'unreachable';
  /** Its host ports by the template's names (held while it is active, stopped or failed with its stack). */
  namedPorts: Record<string, number>;
  /** https://<id>.<baseDomain> when a front door routes this host's tenants (set by the CLI). */
  doorUrl?: string;
};

export async function list(ctx: Context, input: {
  status?: string;
  all?: boolean;
  /** The fleet's hosts by name (src/hosts/ builds them); without it, only this environment's host is asked. */
  hostsNamed?: (names: string[]) => Promise<Map<string, DockerHost>>;
}): Promise<ListedTenant[]> {
  if (input.status !== undefined && !statuses.includes(input.status as TenantStatus)) {
    throw usageError(`--status must be one of ${statuses.join(', ')}`);
  }
  // Docker is asked while the admin database connection opens; the registry is the source of
  // truth, so an unreachable engine must not hide it.
  const live = new Map([[ctx.dockerHost.id, liveStates(ctx, ctx.dockerHost)]]);
  const registry = new TenantRegistry(await ctx.adminDb());
  const [rows, ports] = await Promise.all([registry.list({ status: input.status as TenantStatus | undefined }), registry.allPorts()]);
  // Deprovisioned tenants stay on record for the audit trail; hide them unless asked.
  const shown = input.all || input.status ? rows : rows.filter((r) => r.status !== 'deprovisioned');
  // Every other host with tenants to show is asked at the same time, each within a short timeout.
  const others = [...new Set(shown.map((r) => r.host))].filter((name) => !live.has(name));
  const fleet = others.length > 0 && input.hostsNamed ? await input.hostsNamed(others) : new Map<string, DockerHost>();
  for (const [name, host] of fleet) live.set(name, liveStates(ctx, host));
  const states = new Map(await Promise.all([...live].map(async ([name, answer]) => [name, await answer] as const)));
  return shown.map((row) => {
    const onHost = states.get(row.host);
    return { ...row, namedPorts: ports.get(row.id) ?? {}, live: onHost === undefined ? 'unknown' : onHost === 'unreachable' ? 'unreachable' : (onHost.get(row.composeProject) ?? 'missing') };
  });
}

/** A host's containers by project, or 'unreachable' when it does not answer within hostProbeTimeoutMs. */
async function liveStates(ctx: Context, host: DockerHost): Promise<Map<string, LiveState> | 'unreachable'> {
  return liveStatesByProject(host, AbortSignal.any([ctx.signal, AbortSignal.timeout(hostProbeTimeoutMs)])).catch(failureMeans('unreachable' as const, 'a host that does not answer within hostProbeTimeoutMs is listed unreachable'));
}
