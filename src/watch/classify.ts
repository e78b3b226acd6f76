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
  /** An exited container's exit code, from Docker's status text ("Exited (0) 3 minutes ago"). */
  exitCode?: number;
}

/**
 * A service the tenant's rendered compose file declares under its active profiles (as the restart
 * verb finds them). `oneShot`: its restart policy is none or on-failure, so a container of it that
 * exited 0 finished its job (a migration, a seed) and is not down.
 */
export interface ExpectedService {
  name: string;
  oneShot: boolean;
}

export interface Verdict {
  state: TenantHealthState;
  /** The services seen running (what the next pass expects to find). */
  services: string[];
  /** One line per service that is not fine, for the event and `events`. */
  reasons: string[];
}

/**
 * ready: every expected service has a running container, none unhealthy, none restarted by
 * Docker's restart policy since `restartedAfter`. degraded: all running, but one is unhealthy,
 * restarting, or was restarted by its policy since `restartedAfter` (a crash loop stays degraded
 * for that window instead of flapping). down: a long-running service's container is not running
 * (exited, dead, created, paused) or gone, or the stack has no container at all. A one-shot
 * service whose containers exited 0 is done, not down. With no expected list (the compose file
 * could not be read), the services seen are judged.
 */
export function judge(containers: readonly ContainerSnapshot[], expected: readonly ExpectedService[], restartedAfter?: number): Verdict {
  const reasons: string[] = [];
  let down = containers.length === 0;
  if (down) reasons.push('no containers');
  let degraded = false;
  const oneShot = new Set(expected.filter((e) => e.oneShot).map((e) => e.name));
  const byService = new Map<string, ContainerSnapshot[]>();
  for (const c of containers) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  for (const { name } of expected) {
    if (containers.length > 0 && !byService.has(name) && !oneShot.has(name)) {
      down = true;
      reasons.push(`${name}: no container`);
    }
  }
  for (const [service, list] of byService) {
    // A service runs when one of its containers does (a swarm keeps ended tasks' containers).
    const running = list.find((c) => c.state === 'running');
    if (running) {
      if (running.health === 'unhealthy') {
        degraded = true;
        reasons.push(`${service}: unhealthy`);
      } else if (restartedSince(running, restartedAfter)) {
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
    if (oneShot.has(service) && list.every((c) => c.state === 'exited' && c.exitCode === 0)) continue;
    down = true;
    reasons.push(`${service}: ${list[0]!.state}${list[0]!.exitCode !== undefined ? ` (${list[0]!.exitCode})` : ''}`);
  }
  const services = [...byService].filter(([, list]) => list.some((c) => c.state === 'running' || c.state === 'restarting')).map(([s]) => s).sort();
  return { state: down ? 'down' : degraded ? 'degraded' : 'ready', services, reasons };
}

/** What the watch has on record for a tenant: its state, and a different one seen for some passes in a row. */
export interface RecordedHealth {
  state: TenantHealthState;
  pendingState: TenantHealthState | null;
  pendingPasses: number;
}

/**
 * Flap damping: a state other than the recorded one is recorded (and is an event) only when
 * `confirmPasses` passes in a row saw it; until then it is pending. A tenant first seen is recorded
 * as it is at once (a first sight ready is no event; see transitionEvent).
 */
export function confirmState(recorded: RecordedHealth | undefined, seen: TenantHealthState, confirmPasses: number): { next: RecordedHealth; changed: boolean } {
  if (!recorded) return { next: { state: seen, pendingState: null, pendingPasses: 0 }, changed: true };
  if (seen === recorded.state) return { next: { state: seen, pendingState: null, pendingPasses: 0 }, changed: false };
  const passes = recorded.pendingState === seen ? recorded.pendingPasses + 1 : 1;
  if (passes >= confirmPasses) return { next: { state: seen, pendingState: null, pendingPasses: 0 }, changed: true };
  return { next: { state: recorded.state, pendingState: seen, pendingPasses: passes }, changed: false };
}

/** Services of a rendered compose file under its active profiles, each with whether it is a one-shot job (restart: no / on-failure). */
export function expectedServicesOf(services: Record<string, { restart?: unknown; profiles?: unknown } | null | undefined>, names: readonly string[]): ExpectedService[] {
  return names.map((name) => {
    const restart = String(services[name]?.restart ?? 'no');
    return { name, oneShot: restart === 'no' || restart.startsWith('on-failure') };
  });
}

/** Docker's list status of an exited container ("Exited (137) 2 seconds ago") -> its exit code. */
export function exitCodeFromStatus(status: string): number | undefined {
  const match = /^Exited \((\d+)\)/.exec(status);
  return match ? Number(match[1]) : undefined;
}

function restartedSince(c: ContainerSnapshot, after: number | undefined): boolean {
  if (after === undefined || !c.restartCount || !c.startedAt) return false;
  const started = Date.parse(c.startedAt);
  return !Number.isNaN(started) && started > after;
}

/**
 * How long a restart by Docker's policy keeps a tenant degraded: a crash loop whose period is
 * longer than a pass would otherwise read ready between crashes and alert on every cycle.
 */
export const crashQuietSeconds = 300;

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

export interface RestartCandidate {
  id: string;
  plan: string;
  restartAttempts: number;
  nextRestartAt: number | null;
}

/**
 * The one down tenant to restart this pass (at most one: a restart waits up to the readiness
 * deadline, and a pass must not wait that long for each of several): of those whose plan restarts
 * automatically, not yet at `maxAttempts`, and due, the one waiting longest.
 */
export function pickRestart<T extends RestartCandidate>(down: readonly T[], autoRestartPlans: ReadonlySet<string>, now: number, maxAttempts: number): T | undefined {
  return down
    .filter((t) => autoRestartPlans.has(t.plan) && t.restartAttempts < maxAttempts && (t.nextRestartAt ?? 0) <= now)
    .sort((a, b) => (a.nextRestartAt ?? 0) - (b.nextRestartAt ?? 0) || a.id.localeCompare(b.id))[0];
}
