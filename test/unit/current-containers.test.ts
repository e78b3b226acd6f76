import { describe, expect, it } from 'vitest';
import { createdAfter, currentContainers, type ContainerState } from '../../src/engine/docker.js';
import { judgeService } from '../../src/stack/readiness.js';

// A swarm keeps the containers of the tasks it ended (a stop, a restart ago) beside the current
// one: readiness and status judge each service by its newest task's container, never by an old
// exited one. A compose project's containers are all current.

const c = (id: string, service: string, status: string, extra: Partial<ContainerState> = {}): ContainerState =>
  ({ id, name: id, service, status, exitCode: status === 'exited' ? 137 : 0, restartCount: 0, image: 'i', imageId: 'sha256:i', ...extra });

describe('current containers', () => {
  it('of a swarm stack: each service\'s newest task container only', () => {
    const states = [
      c('old-app', 'app', 'exited', { swarmTask: true, created: '2026-12-06T01:00:00Z' }),
      c('new-app', 'app', 'running', { swarmTask: true, created: '2026-12-06T02:00:00Z' }),
      c('db', 'db', 'running', { swarmTask: true, created: '2026-12-06T00:00:00Z' }),
    ];
    expect(currentContainers(states).map((s) => s.id)).toEqual(['new-app', 'db']);
    expect(judgeService({ name: 'app', hasHealthcheck: false }, states)).toEqual({ state: 'ready' });
  });

  it('of a compose project: all of them (an exited one fails readiness at once)', () => {
    const states = [c('app', 'app', 'exited'), c('db', 'db', 'running')];
    expect(currentContainers(states)).toEqual(states);
    expect(judgeService({ name: 'app', hasHealthcheck: false }, states)).toMatchObject({ state: 'failed' });
  });

  it('a swarm service whose newest task exited is waiting for the task swarm starts next (the deadline names a crash loop), whatever older tasks did', () => {
    const states = [
      c('old', 'app', 'running', { swarmTask: true, created: '2026-12-06T01:00:00Z' }),
      c('new', 'app', 'exited', { swarmTask: true, created: '2026-12-06T02:00:00Z' }),
    ];
    expect(judgeService({ name: 'app', hasHealthcheck: false }, states)).toEqual({ state: 'waiting', why: "its task's container new exited with code 137; swarm starts a new task" });
    const replaced = [...states, c('newer', 'app', 'running', { swarmTask: true, created: '2026-12-06T02:00:05Z' })];
    expect(judgeService({ name: 'app', hasHealthcheck: false }, replaced)).toEqual({ state: 'ready' });
  });

  it('orders creation times by their value, not their text (Docker drops trailing zeros of the fraction)', () => {
    expect(createdAfter('2026-12-06T05:00:00.12Z', '2026-12-06T05:00:00.1Z')).toBe(true);
    expect(createdAfter('2026-12-06T05:00:00.3Z', '2026-12-06T05:00:00Z')).toBe(true);
    expect(createdAfter('2026-12-06T05:00:00Z', '2026-12-06T05:00:00.3Z')).toBe(false);
    expect(createdAfter('2026-12-06T05:00:01Z', '2026-12-06T05:00:00.999999999Z')).toBe(true);
    expect(createdAfter('2026-12-06 05:00:02 +0000 UTC', '2026-12-06 05:00:01 +0000 UTC')).toBe(true);
    const states = [
      c('second', 'app', 'running', { swarmTask: true, created: '2026-12-06T05:00:00.12Z' }),
      c('first', 'app', 'exited', { swarmTask: true, created: '2026-12-06T05:00:00.1Z' }),
    ];
    expect(currentContainers(states).map((s) => s.id)).toEqual(['second']);
  });
});
