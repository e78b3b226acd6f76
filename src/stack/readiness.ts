import { TenantctlError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import type { DockerHost } from '../engine/docker-host.js';
import { currentContainers, inspectContainers, projectContainerIds, type ContainerState } from '../engine/docker.js';
import type { Probe } from './probes.js';

// "Ready" is tenantctl's own verdict: every service's container runs (none exited, crash-looping or
// unhealthy), and every service with a probe answers it from outside the containers. Container
// health checks run at a slow interval for Docker's own monitoring; a service without a probe but
// with a health check still waits for "healthy".

export interface ExpectedService {
  name: string;
  hasHealthcheck: boolean;
  /** How tenantctl checks the service itself; without one, its container's state decides. */
  probe?: Probe;
}

type Verdict = { state: 'ready' } | { state: 'waiting'; why: string } | { state: 'failed'; why: string };

/** Pure: what one container snapshot says about one service (before its probe, if it has one). */
export function judgeService(service: ExpectedService, containers: ContainerState[]): Verdict {
  const mine = currentContainers(containers).filter((c) => c.service === service.name);
  if (mine.length === 0) return { state: 'waiting', why: 'no container yet' };
  for (const c of mine) {
    // A swarm replaces a task that ended with a new one (a new container): not failed yet; a crash
    // loop shows as no progress until the deadline, which names it.
    if (c.swarmTask && (c.status === 'exited' || c.status === 'dead')) return { state: 'waiting', why: `its task's container ${c.name} ${c.status} with code ${c.exitCode}; swarm starts a new task` };
    if (c.status === 'exited' || c.status === 'dead') {
      return { state: 'failed', why: `container ${c.name} ${c.status} with code ${c.exitCode}` };
    }
    // Docker keeps restarting a crashing container under restart policies; past a few restarts it will not come good.
    if (c.restartCount >= 3) return { state: 'failed', why: `container ${c.name} restarted ${c.restartCount} times` };
    if (c.status !== 'running') return { state: 'waiting', why: c.status };
    if (c.health === 'unhealthy') return { state: 'failed', why: `unhealthy${c.lastHealthOutput ? `: ${c.lastHealthOutput}` : ''}` };
    if (!service.probe && service.hasHealthcheck && c.health !== 'healthy') {
      return { state: 'waiting', why: `health ${c.health ?? 'unknown'}${c.lastHealthOutput ? ` (${c.lastHealthOutput})` : ''}` };
    }
  }
  return { state: 'ready' };
}

export interface WaitOptions {
  /** How long to wait without progress: each service that becomes ready starts the wait afresh. */
  deadlineMs: number;
  clock?: Clock;
  signal?: AbortSignal;
  /** Called when a service becomes ready. */
  onReady?: (service: string) => void;
}

/**
 * Waits until every service is ready: containers from one `docker inspect` per round, probes for
 * the services whose containers run, with backoff (100 ms doubling to 1 s) and no fixed sleeps.
 * Fails fast on a dead, crash-looping or unhealthy container, or a probe's final answer (a wrong
 * password). The deadline is about progress: on a saturated host a provision gets slower, not
 * failed, as long as services keep coming up; after `deadlineMs` with none, it names each service
 * not ready and why. An overall cap of three deadlines bounds the whole wait.
 */
export async function waitUntilReady(host: DockerHost, project: string, services: ExpectedService[], options: WaitOptions): Promise<ContainerState[]> {
  const { deadlineMs, signal, onReady } = options;
  const ready = new Set<string>();
  // Once every service has its container, one `docker inspect` per round is enough: with many
  // provisions waiting at once, docker CLI start-ups are what loads the host.
  let containerIds: string[] = [];
  return retryUntilDeadline(async () => {
    if (containerIds.length < services.length) containerIds = await projectContainerIds(host, project, signal);
    const containers = await inspectContainers(host, containerIds, signal);
    // A swarm's new task is a new container: its ids are looked up every round.
    if (containers?.some((c) => c.swarmTask)) containerIds = [];
    if (!containers) {
      containerIds = []; // one was replaced (a restart policy, a re-create): look them up again
      return notYet('containers are being replaced');
    }
    const verdicts = services.map((service) => ({ service, verdict: judgeService(service, containers) }));
    const failed = verdicts.filter((v) => v.verdict.state === 'failed');
    if (failed.length > 0) {
      throw new TenantctlError('notReady', `service ${failed.map((f) => `${f.service.name} ${(f.verdict as { why: string }).why}`).join('; ')}`);
    }
    const before = ready.size;
    const pending = await Promise.all(verdicts.map(async ({ service, verdict }) => {
      if (verdict.state === 'waiting') return `${service.name} (${verdict.why})`;
      if (ready.has(service.name)) return undefined;
      const answer = service.probe ? await service.probe.attempt(signal) : done(undefined);
      if (!answer.done) return `${service.name} (${service.probe!.what}: ${answer.why})`;
      ready.add(service.name);
      onReady?.(service.name);
      return undefined;
    }));
    const waiting = pending.filter((p): p is string => p !== undefined);
    // The last look at the containers is the caller's too (what they run, for the record).
    if (waiting.length === 0) return done(containers);
    return notYet(waiting.join(', '), ready.size > before);
  }, {
    what: 'waiting for services',
    deadlineMs,
    maxTotalMs: deadlineMs * 3,
    clock: options.clock,
    signal,
    onDeadline: (pending) => new TenantctlError('notReady', `not ready after ${Math.round(deadlineMs / 1000)} s without progress: ${pending}; raise TENANTCTL_HEALTH_DEADLINE on slow hosts`),
  });
}
