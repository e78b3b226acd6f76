// Which host names are this engine, and whether a stack here whose tenant is recorded on another
// host is that move's leftovers: pure, from what doctor.ts learned (engine IDs, what the other host
// said). A host's identity is its engine (admin_hosts.engine_id, migration 012), not its name:
// TENANTCTL_HOST_ID defaults to the hostname, which changes, and one daemon has several endpoints.
// Only a stack proven to be a copy (its tenant running on another engine) may be removed.

export interface FleetHost {
  name: string;
  /** Recorded in admin_hosts; null until learned. */
  engineId: string | null;
  removed?: boolean;
}

/** What the host a tenant is recorded on said when doctor asked it about the tenant's project. */
export interface HostAnswer {
  /** The engine ID it said; undefined when it could not be asked or did not answer. */
  engineId?: string;
  /** Why it could not be asked (no endpoint here) or did not answer. */
  unreachable?: string;
  /** Its containers of the tenant's project, when it answered. */
  containers?: Array<{ service: string; state: string }>;
}

export interface IdentityFacts {
  /** The host name doctor checks (this environment's, or --host). */
  host: string;
  /** That engine's own ID; undefined when it did not say. */
  engineId?: string;
  hosts: FleetHost[];
  /** By tenant id: for stacks here whose tenant's row names a host that is not here. */
  elsewhere: Record<string, HostAnswer>;
}

/** This host's name recorded with another engine: its rows are that engine's, not this one's. */
export function recordedAsAnotherEngine(s: IdentityFacts): string | undefined {
  const own = s.hosts.find((h) => h.name === s.host)?.engineId;
  return s.engineId && own && own !== s.engineId ? own : undefined;
}

/**
 * The host names whose rows are judged against this engine's Docker objects: this host's own name
 * (unless it is recorded as another engine) and every name recorded with this engine's ID (an
 * alias: a renamed machine, a second endpoint for the same daemon). A name only found to be this
 * engine when asked (recorded before engine IDs were) is judged by judgeLeftovers instead.
 */
export function namesHere(s: IdentityFacts): Set<string> {
  const here = new Set(recordedAsAnotherEngine(s) ? [] : [s.host]);
  if (!s.engineId) return here;
  for (const h of s.hosts) if (h.engineId === s.engineId) here.add(h.name);
  return here;
}

/** The other names of this engine in the fleet (not removed), each a finding of its own. */
export function aliasesOf(s: IdentityFacts): string[] {
  if (!s.engineId) return [];
  return s.hosts.filter((h) => h.name !== s.host && !h.removed && h.engineId === s.engineId).map((h) => h.name);
}

export type LeftoversVerdict =
  | { leftovers: true }
  | { leftovers: false; why: string; fix: string };

/**
 * A stack of `id` here while its row names `recordedOn`: leftovers (removable) only when that host
 * is known to be another engine and the tenant is confirmed running there, every service of it.
 */
export function judgeLeftovers(s: IdentityFacts, id: string, recordedOn: string, expectedServices: readonly string[]): LeftoversVerdict {
  const never = `never deprovision ${id} from here: that goes to ${recordedOn}`;
  if (!s.engineId) {
    return { leftovers: false, why: `the engine of ${s.host} did not say its ID, so ${recordedOn} cannot be told apart from it`, fix: `tenantctl doctor   # again once the engine answers; ${never}` };
  }
  const own = recordedAsAnotherEngine(s);
  if (own && recordedOn === s.host) {
    return {
      leftovers: false, why: `Docker host ${s.host} is recorded as engine ${own}, but this is engine ${s.engineId}: this may be ${id}'s live stack`,
      fix: `export TENANTCTL_HOST_ID=<this engine's own name>   # one engine, one name; ${never}`,
    };
  }
  const answer = s.elsewhere[id] ?? { unreachable: 'it was not asked' };
  const engine = answer.engineId ?? s.hosts.find((h) => h.name === recordedOn)?.engineId ?? undefined;
  if (engine === s.engineId) {
    return {
      leftovers: false, why: `Docker host ${recordedOn} is this same engine (ID ${engine}) under another name: this is ${id}'s live stack`,
      fix: `export TENANTCTL_HOST_ID=${recordedOn}   # this engine's name in the fleet (one engine, one name), then tenantctl doctor again`,
    };
  }
  if (engine === undefined) {
    return {
      leftovers: false, why: `the engine ID of Docker host ${recordedOn} is unknown (${answer.unreachable ?? 'never recorded'}), so it may be this engine under another name`,
      fix: `tenantctl status ${id}   # where it runs; if ${recordedOn} is this machine, export TENANTCTL_HOST_ID=${recordedOn}; ${never}`,
    };
  }
  if (answer.unreachable !== undefined || !answer.containers) {
    return {
      leftovers: false, why: `Docker host ${recordedOn} does not answer (${answer.unreachable ?? 'no containers listed'}), so ${id} cannot be confirmed running there`,
      fix: `tenantctl hosts list   # once ${recordedOn} answers, tenantctl doctor --fix again; ${never}`,
    };
  }
  const running = new Set(answer.containers.filter((c) => c.state === 'running').map((c) => c.service));
  const notRunning = expectedServices.length > 0 ? expectedServices.filter((service) => !running.has(service)) : running.size > 0 ? [] : ['any service'];
  if (notRunning.length > 0) {
    return {
      leftovers: false, why: `${id} is not running on Docker host ${recordedOn} (${notRunning.join(', ')} not running there), so this may be its only stack`,
      fix: `tenantctl status ${id}   # if this is its live stack, its row names the wrong host; ${never}`,
    };
  }
  return { leftovers: true };
}
