// What the watch concludes from one look at a tenant's containers, and which transitions are
// events. Pure: the probe (probe.ts) gathers, the pass (pass.ts) records.

export type TenantHealthState = 'ready' | 'degraded' | 'down';

/** One container as the probe saw it (one list call per host; inspect only for the recently started). */
export interface ContainerSnapshot {
  id: string;
  project: string;
  service: string;
  /** Docker's state: created | running | restarting | exited | dead | paused */
  state: string;
  /** healthy | unhealthy | starting, or undefined without a health check */
  health?: string;
  /** Restarts by Docker's restart policy, when asked (inspected: started since the last pass). */
  restartCount?: number;
  /** When the container last started (ISO), when inspected. */
  startedAt?: string;
}

export interface Verdict {
  state: TenantHealthState;
  /** The services seen running (what the next pass expects to find). */
  services: string[];
  /** One line per service that is not fine, for the event and `events`. */
  reasons: string[];
}

/**
 * ready: every service seen before has a running container, none unhealthy, none restarted by
 * Docker since the last pass. degraded: all running, but one is unhealthy, restarting, or crashed
 * and was restarted by its restart policy since `lastCheckedAt`. down: a service's container is not
 * running (exited, dead, created, paused) or gone, or the stack has no container at all.
 */
export function judge(containers: readonly ContainerSnapshot[], expected: readonly string[], lastCheckedAt?: number): Verdict {
  const reasons: string[] = [];
  let down = containers.length === 0;
  if (down) reasons.push('no containers');
  let degraded = false;
  const byService = new Map<string, ContainerSnapshot[]>();
  for (const c of containers) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  for (const service of expected) {
    if (containers.length > 0 && !byService.has(service)) {
      down = true;
      reasons.push(`${service}: no container`);
    }
  }
  for (const [service, list] of byService) {
    // A service runs when one of its containers does (a swarm keeps ended tasks' containers).
    const running = list.find((c) => c.state === 'running');
    if (running) {
      if (running.health === 'unhealthy') {
        degraded = true;
        reasons.push(`${service}: unhealthy`);
      } else if (restartedSince(running, lastCheckedAt)) {
        degraded = true;
        reasons.push(`${service}: restarted by Docker (restart ${running.restartCount})`);
      }
      continue;
    }
    const restarting = list.find((c) => c.state === 'restarting');
    if (restarting) {
      degraded = true;
      reasons.push(`${service}: restarting`);
      continue;
    }
    down = true;
    reasons.push(`${service}: ${list[0]!.state}`);
  }
  const services = [...byService].filter(([, list]) => list.some((c) => c.state === 'running' || c.state === 'restarting')).map(([s]) => s).sort();
  return { state: down ? 'down' : degraded ? 'degraded' : 'ready', services, reasons };
}

function restartedSince(c: ContainerSnapshot, lastCheckedAt: number | undefined): boolean {
  if (lastCheckedAt === undefined || !c.restartCount || !c.startedAt) return false;
  const started = Date.parse(c.startedAt);
  return !Number.isNaN(started) && started > lastCheckedAt;
}

export type TenantEventKind = 'tenant.degraded' | 'tenant.down' | 'tenant.recovered';

/**
 * The event a change of state is: to degraded, to down, back to ready (recovered). A tenant seen
 * for the first time is an event only when it is not ready.
 */
export function transitionEvent(from: TenantHealthState | undefined, to: TenantHealthState): TenantEventKind | undefined {
  if (from === to) return undefined;
  if (to === 'ready') return from === undefined ? undefined : 'tenant.recovered';
  return to === 'down' ? 'tenant.down' : 'tenant.degraded';
}

/**
 * Docker's list status text ("Up 3 minutes (healthy)", "Up 2 seconds (health: starting)",
 * "Restarting (1) 4 seconds ago") -> the health word, if it has a check.
 */
export function healthFromStatus(status: string): string | undefined {
  const match = /\((healthy|unhealthy|health: starting)\)/.exec(status);
  if (!match) return undefined;
  return match[1] === 'health: starting' ? 'starting' : match[1];
}

/**
 * Whether a running container started recently enough that it may have been restarted by its
 * policy since the last pass ("Up Less than a second", "Up 12 seconds", "Up About a minute", "Up 2
 * minutes" within `withinSeconds`): only those are inspected for their restart count.
 */
export function startedRecently(status: string, withinSeconds: number): boolean {
  const text = status.replace(/\s*\(.*\)$/, '');
  if (/^Up Less than a second/.test(text)) return true;
  const seconds = /^Up (\d+) seconds?/.exec(text);
  if (seconds) return Number(seconds[1]) <= withinSeconds;
  if (/^Up About a minute/.test(text)) return withinSeconds >= 60;
  const minutes = /^Up (\d+) minutes?/.exec(text);
  if (minutes) return Number(minutes[1]) * 60 <= withinSeconds;
  return false;
}

/** Auto-restart backoff: base, doubled each failed attempt, capped. */
export function restartDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts));
}
