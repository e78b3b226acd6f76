import { TenantctlError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import type { DockerHost } from './docker-host.js';
import { inspectContainers, projectContainerIds, type ContainerState } from './docker.js';

export interface ExpectedService {
  name: string;
  hasHealthcheck: boolean;
}

type Verdict = { state: 'ready' } | { state: 'waiting'; why: string } | { state: 'failed'; why: string };

/** Pure: what one container snapshot says about one service. */
export function judgeService(service: ExpectedService, containers: ContainerState[]): Verdict {
  const mine = containers.filter((c) => c.service === service.name);
  if (mine.length === 0) return { state: 'waiting', why: 'no container yet' };
  for (const c of mine) {
    if (c.status === 'exited' || c.status === 'dead') {
      return { state: 'failed', why: `container ${c.name} ${c.status} with code ${c.exitCode}` };
    }
    // Docker keeps retrying an unhealthy container under restart policies; past a few restarts it will not come good.
    if (c.restartCount >= 3) return { state: 'failed', why: `container ${c.name} restarted ${c.restartCount} times` };
    if (c.status !== 'running') return { state: 'waiting', why: c.status };
    if (service.hasHealthcheck) {
      if (c.health === 'unhealthy') return { state: 'failed', why: `unhealthy${c.lastHealthOutput ? `: ${c.lastHealthOutput}` : ''}` };
      if (c.health !== 'healthy') return { state: 'waiting', why: `health ${c.health ?? 'unknown'}${c.lastHealthOutput ? ` (${c.lastHealthOutput})` : ''}` };
    }
  }
  return { state: 'ready' };
}

/**
 * Polls Docker until every expected service runs and every health-checked one is healthy.
 * No fixed sleeps: it returns as soon as the stack is ready, fails fast on a dead or unhealthy
 * container, and at the deadline names each service that was not ready and why.
 */
export async function waitUntilReady(
  host: DockerHost,
  project: string,
  services: ExpectedService[],
  { deadlineMs, clock, signal }: { deadlineMs: number; clock?: Clock; signal?: AbortSignal },
): Promise<void> {
  // Once every service has its container, one `docker inspect` per poll is enough: with many
  // provisions waiting at once, docker CLI start-ups are what loads the host.
  let containerIds: string[] = [];
  await retryUntilDeadline(async () => {
    if (containerIds.length < services.length) containerIds = await projectContainerIds(host, project, signal);
    const containers = await inspectContainers(host, containerIds, signal);
    if (!containers) {
      containerIds = []; // one was replaced (a restart policy, a re-create): look them up again
      return notYet('containers are being replaced');
    }
    const verdicts = services.map((s) => ({ service: s.name, verdict: judgeService(s, containers) }));
    const failed = verdicts.filter((v) => v.verdict.state === 'failed');
    if (failed.length > 0) {
      throw new TenantctlError('notReady', `service ${failed.map((f) => `${f.service} ${(f.verdict as { why: string }).why}`).join('; ')}`);
    }
    const pending = verdicts.filter((v) => v.verdict.state === 'waiting');
    if (pending.length === 0) return done(undefined);
    return notYet(pending.map((p) => `${p.service} (${(p.verdict as { why: string }).why})`).join(', '));
  }, {
    what: 'waiting for services',
    deadlineMs,
    clock,
    signal,
    // Docker's health checks run every second at best; polling much faster only adds load.
    initialDelayMs: 250,
    onDeadline: (pending) => new TenantctlError('notReady', `not ready after ${Math.round(deadlineMs / 1000)} s: ${pending}; raise TENANTCTL_HEALTH_DEADLINE on slow hosts`),
  });
}
