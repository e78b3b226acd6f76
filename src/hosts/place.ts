import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { HostStore, planMemoryBytes } from './store.js';
import { probeHost } from './probe.js';
import { choosePlacement, type Placement, type PlacementCandidate } from './placement.js';
import { contextOn, dockerHostFor, onTenantsHost, requireReachable, settleBeforeRouting } from './resolve.js';

// Provision's first step in a fleet: which host the new tenant goes to. A tenant already on
// record (a failed attempt, kept data) stays where its Docker objects are; --host names a host;
// otherwise the placement policy chooses among the active hosts that answer. With no host
// registered this is the environment's host, as it always was, without asking Docker anything.
// Every placement is recorded (admin_placements) in the transaction that chose it, under one lock:
// placements in other processes, and the other tenants of a batch, count it until the tenant's own
// row does, so concurrent provisions spread instead of all picking the emptiest host.

export interface Placed {
  ctx: Context;
  placement?: Placement;
}

export async function placeTenant(ctx: Context, input: { id: unknown; host?: string; plan?: string }): Promise<Placed> {
  const id = parseTenantId(input.id);
  const db = await ctx.adminDb();
  // Where it is recorded decides where it goes: after settling what a killed run left (a move undone or finished).
  await settleBeforeRouting(ctx, db, [id]);
  const existing = await new TenantRegistry(db).get(id);
  if (existing && (existing.status !== 'deprovisioned' || existing.keptData)) {
    if (input.host !== undefined && input.host !== existing.host) {
      throw new TenantctlError('conflict', `tenant ${id} is on Docker host ${existing.host}; move it with tenantctl move ${id} --to ${input.host}`);
    }
    // Routed like every later command: the tenant's objects are where it is recorded.
    return { ctx: await onTenantsHost(ctx, [id], async (routed) => routed) };
  }
  const store = new HostStore(db);
  if (input.host !== undefined) {
    const record = input.host === ctx.dockerHost.id ? await store.get(input.host) : await store.require(input.host);
    if (record && record.state !== 'active') throw new TenantctlError('conflict', `Docker host ${input.host} is ${record.state}: it takes no new tenants (tenantctl hosts activate ${input.host})`);
    const host = record ? await dockerHostFor(ctx, record) : ctx.dockerHost;
    if (!host) throw new TenantctlError('conflict', `Docker host ${input.host} has no endpoint registered here; point DOCKER_HOST and TENANTCTL_HOST_ID at it`);
    if (host !== ctx.dockerHost) await requireReachable(ctx, host);
    await store.placeUnderLock((client) => store.recordPlacement(client, id, host.id, planMemoryBytes(input.plan ?? 'standard')));
    return { ctx: contextOn(ctx, host), placement: { host: host.id, reason: '--host' } };
  }

  const records = await store.list();
  const own = records.find((r) => r.name === ctx.dockerHost.id);
  const fleet = records.filter((r) => r.endpoint !== null && r.state !== 'removed' && r.name !== ctx.dockerHost.id);
  if (fleet.length === 0) return { ctx };
  // The environment's host is a candidate like the others unless it is drained or removed.
  const hosts = [
    { name: ctx.dockerHost.id, state: own?.state ?? 'active', host: ctx.dockerHost },
    ...(await Promise.all(fleet.map(async (r) => ({ name: r.name, state: r.state, host: await dockerHostFor(ctx, r) })))),
  ];
  const probed = await Promise.all(hosts.map(async (h) => {
    // Only active hosts are asked: a drained one is not a candidate whether it answers or not.
    const probe = h.state === 'active' && h.host ? await probeHost(h.host, ctx.signal) : undefined;
    return { name: h.name, state: h.state, reachable: probe?.reachable === true, memoryBytes: probe?.reachable ? probe.memoryBytes : 0 };
  }));
  // The hosts are probed first (slow, outside the lock); the loads are read, the choice made and
  // recorded under the placement lock, in one transaction.
  const need = planMemoryBytes(input.plan ?? 'standard');
  const placement = await store.placeUnderLock(async (client, loads) => {
    const candidates: PlacementCandidate[] = probed.map((c) => {
      const load = loads.get(c.name) ?? { tenants: 0, promisedMemoryBytes: 0 };
      return { ...c, tenants: load.tenants, promisedMemoryBytes: load.promisedMemoryBytes };
    });
    const chosen = choosePlacement(candidates, ctx.config.placement, need);
    await store.recordPlacement(client, id, chosen.host, need);
    return chosen;
  });
  ctx.reporter.info(`placed on Docker host ${placement.host}: ${placement.reason}`);
  const chosen = hosts.find((h) => h.name === placement.host)!.host!;
  return { ctx: contextOn(ctx, chosen), placement };
}
