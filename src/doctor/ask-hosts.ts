import type { Context } from '../context.js';
import type { AdminDb } from '../admin-db/database.js';
import type { DockerHost } from '../engine/docker-host.js';
import { projectContainers } from '../stack/project-state.js';
import { HostStore } from '../hosts/store.js';
import { dockerHostNamed } from '../hosts/resolve.js';
import { probeHost } from '../hosts/probe.js';
import { messageOf } from '../common/errors.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { namesHere, type FleetHost, type HostAnswer, type IdentityFacts } from './host-identity.js';

// What doctor learns about host identity before judging (host-identity.ts judges, purely): this
// engine's own ID, the fleet's recorded engine IDs, and, for every stack here whose tenant's row
// names another host, what that host says: its engine ID and its containers of the tenant's
// project. Only questions; nothing here changes anything.

/** This engine's ID and the fleet's hosts; asked while the rest of the snapshot is taken. */
export async function learnIdentity(ctx: Context, db: AdminDb): Promise<Pick<IdentityFacts, 'engineId' | 'hosts'>> {
  const [engineId, records] = await Promise.all([
    ctx.dockerHost.engineId({ signal: ctx.signal }).catch(ignoreFailure('an engine not answering has no ID: nothing is judged another engine (host-identity.ts)')),
    new HostStore(db).list(),
  ]);
  const hosts: FleetHost[] = records.map((r) => ({ name: r.name, engineId: r.engineId, removed: r.state === 'removed' }));
  return { engineId, hosts };
}

/**
 * Asks the host each tenant is recorded on about its stack, every host once and all at once
 * (probeHost's short timeout: one that is down costs seconds). `tenants`: id -> its row's host and
 * project, for the stacks here whose rows name a host that is not this engine's.
 */
export async function askRecordedHosts(ctx: Context, db: AdminDb, facts: Pick<IdentityFacts, 'host' | 'engineId' | 'hosts'>, tenants: ReadonlyArray<{ id: string; host: string; project: string }>): Promise<Record<string, HostAnswer>> {
  const here = namesHere({ ...facts, elsewhere: {} });
  // This host's own name is never asked through another DockerHost: it is ctx.dockerHost, this engine.
  const asked = tenants.filter((t) => !here.has(t.host) && t.host !== facts.host);
  const hosts = new Map<string, Promise<{ host?: DockerHost; engineId?: string; unreachable?: string }>>();
  for (const name of new Set(asked.map((t) => t.host))) hosts.set(name, reach(ctx, db, name));
  const answers = await Promise.all(asked.map(async (t): Promise<[string, HostAnswer]> => {
    const reached = await hosts.get(t.host)!;
    if (!reached.host) return [t.id, { unreachable: reached.unreachable }];
    try {
      const containers = await projectContainers(reached.host, t.project, ctx.signal);
      return [t.id, { engineId: reached.engineId, containers: containers.map((c) => ({ service: c.service, state: c.status })) }];
    } catch (error) {
      return [t.id, { engineId: reached.engineId, unreachable: messageOf(error) }];
    }
  }));
  return Object.fromEntries(answers);
}

/** A host of the fleet, if this environment reaches it and it answers, with the engine ID it says. */
async function reach(ctx: Context, db: AdminDb, name: string): Promise<{ host?: DockerHost; engineId?: string; unreachable?: string }> {
  // With --host, the environment's own host is another host: reached through the environment.
  const host = name === ctx.homeHost.id ? ctx.homeHost : await dockerHostNamed(ctx, db, name);
  if (!host) return { unreachable: `${name} is known only by name here (no endpoint registered): only its own environment reaches it` };
  const probe = await probeHost(host, ctx.signal);
  if (!probe.reachable) return { unreachable: probe.error };
  return { host, engineId: probe.engineId || undefined };
}
