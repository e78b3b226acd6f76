import { TenantctlError } from '../common/errors.js';

// Where a new tenant goes when the operator does not say (--host): pure, so the rules are tested
// without engines. Only active hosts that answered are candidates; draining and removed hosts
// keep their tenants but get no new ones.

export type PlacementPolicy = 'fewest-tenants' | 'most-free-memory';

export interface PlacementCandidate {
  name: string;
  state: 'active' | 'draining' | 'removed';
  reachable: boolean;
  /** Live tenants recorded on the host (not deprovisioned). */
  tenants: number;
  /** The engine's memory (docker info MemTotal); 0 when unknown. */
  memoryBytes: number;
  /** The memory the plans of its live tenants promise them. */
  promisedMemoryBytes: number;
}

export interface Placement {
  host: string;
  /** Why this host, for the progress line and --json: "fewest tenants (3)". */
  reason: string;
}

/**
 * The host a new tenant goes to. Ties go to the host named first in name order, so the choice is
 * the same every time for the same fleet. No candidate: exit 5 (the fleet is full or down), with
 * each host's reason.
 */
export function choosePlacement(candidates: readonly PlacementCandidate[], policy: PlacementPolicy, needMemoryBytes: number): Placement {
  const eligible = [...candidates].sort((a, b) => a.name.localeCompare(b.name)).filter((c) => c.state === 'active' && c.reachable);
  const fitting = policy === 'most-free-memory' ? eligible.filter((c) => freeMemory(c) >= needMemoryBytes) : eligible;
  if (fitting.length === 0) {
    const why = candidates.map((c) => `${c.name}: ${c.state !== 'active' ? c.state : !c.reachable ? 'not reachable' : 'not enough free memory'}`);
    throw new TenantctlError('conflict', `no Docker host can take a new tenant${why.length > 0 ? ` (${why.join('; ')})` : ''}; add one (tenantctl hosts add) or name one with --host`);
  }
  if (policy === 'most-free-memory') {
    const best = fitting.reduce((a, b) => (freeMemory(b) > freeMemory(a) ? b : a));
    return { host: best.name, reason: `most free memory (${Math.round(freeMemory(best) / 1024 ** 2)} MiB not promised to tenants)` };
  }
  const best = fitting.reduce((a, b) => (b.tenants < a.tenants ? b : a));
  return { host: best.name, reason: `fewest tenants (${best.tenants})` };
}

/** Memory not yet promised to tenants by their plans (what they may use, not what they use now). */
export function freeMemory(c: Pick<PlacementCandidate, 'memoryBytes' | 'promisedMemoryBytes'>): number {
  return Math.max(0, c.memoryBytes - c.promisedMemoryBytes);
}
