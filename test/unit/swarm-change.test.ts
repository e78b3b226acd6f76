// The pure parts of changing a swarm tenant: a stack file naming a rotation's secret versions
// (swarm-render.ts), and when a task is of its service's current spec (stack-converge.ts).
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { swarmRender } from '../../src/swarm/swarm-render.js';
import { convergence, matches, type ServiceSpec, type TaskView } from '../../src/swarm/stack-converge.js';
import { pinOf, pinRepository, unusedPins } from '../../src/swarm/stack-versions.js';

const compose = `
services:
  db:
    image: tenantctl/postgres:15
    secrets: [DB_PASSWORD, APP_DB_PASSWORD]
secrets:
  DB_PASSWORD: { file: ./secrets/DB_PASSWORD }
  APP_DB_PASSWORD: { file: ./secrets/APP_DB_PASSWORD }
`;

describe('a stack file naming secret versions', () => {
  it('names the rotated secret objects, and leaves the others to swarm\'s default name', () => {
    const stack = parse(swarmRender({ rendered: compose, directories: {}, node: 'n1', project: 'p', secretNames: { DB_PASSWORD: 'p_DB_PASSWORD_v3' } }).text);
    expect(stack.secrets.DB_PASSWORD).toMatchObject({ file: './secrets/DB_PASSWORD', name: 'p_DB_PASSWORD_v3' });
    expect(stack.secrets.APP_DB_PASSWORD.name).toBeUndefined();
    // The service still reads it by its key, at the same path.
    expect(stack.services.db.secrets).toContainEqual({ source: 'DB_PASSWORD', target: 'DB_PASSWORD', mode: 0o400 });
  });

  it('pins images by id under the project\'s own repository', () => {
    expect(pinRepository('Tct_Acme')).toBe('tenantctl-pin/tct_acme');
    expect(pinOf('acme', 'sha256:0123456789abcdef0123')).toBe('tenantctl-pin/acme:0123456789abcdef');
  });
});

describe('a task of its service\'s current spec', () => {
  const template = {
    ContainerSpec: { Image: 'tenantctl-pin/p:aaaa', Secrets: [{ SecretName: 'p_DB_PASSWORD_v2' }], StopGracePeriod: 10_000_000_000 },
    Resources: { Limits: { MemoryBytes: 1 } }, RestartPolicy: { Condition: 'any', Delay: 5_000_000_000 }, Runtime: 'container', DNSConfig: {},
  };
  const task = { ContainerSpec: { Image: 'tenantctl-pin/p:aaaa', Secrets: [{ SecretName: 'p_DB_PASSWORD_v2' }] }, Resources: { Limits: { MemoryBytes: 1 } }, RestartPolicy: { Condition: 'any' } };
  const json = JSON.stringify;

  it('matches though the task\'s copy leaves out the defaults the service shows', () => {
    expect(matches(json(task), json(template))).toBe(true);
  });

  it('does not match a task of the old image, old secret versions or old limits', () => {
    expect(matches(json({ ...task, ContainerSpec: { ...task.ContainerSpec, Image: 'tenantctl-pin/p:bbbb' } }), json(template))).toBe(false);
    expect(matches(json({ ...task, ContainerSpec: { ...task.ContainerSpec, Secrets: [{ SecretName: 'p_DB_PASSWORD' }] } }), json(template))).toBe(false);
    expect(matches(json({ ...task, Resources: { Limits: { MemoryBytes: 2 } } }), json(template))).toBe(false);
    expect(matches('not json', json(template))).toBe(false);
  });
});

describe('a stack converged after a deploy', () => {
  const json = JSON.stringify;
  const oldTemplate = { ContainerSpec: { Image: 'tenantctl-pin/p:aaaa' } };
  // The new spec only adds keys (a limit, a healthcheck): the old task's copy is a subset of it.
  const newTemplate = { ContainerSpec: { Image: 'tenantctl-pin/p:aaaa', Healthcheck: { Test: ['CMD', 'true'] } }, Resources: { Limits: { MemoryBytes: 1 } } };
  const before = { tasks: new Set(['old']), templates: new Map([['p_app', json(oldTemplate)]]) };
  const spec = (updateState = 'completed'): ServiceSpec => ({ name: 'p_app', template: json(newTemplate), updateState });
  const task = (id: string, template: object, state = 'running', desired = 'running'): TaskView => ({ id, service: 'p_app', desired, state, error: '', template: json(template) });

  it('does not take the old task for the new spec when the new spec only adds keys', () => {
    expect(matches(json(oldTemplate), json(newTemplate))).toBe(true); // why the snapshot is needed
    expect(convergence([spec()], [task('old', oldTemplate)], before).waiting).toEqual(['p_app']);
  });

  it('is converged once a task that was not there before runs, and the update is settled', () => {
    const tasks = [task('old', oldTemplate, 'shutdown', 'shutdown'), task('new', newTemplate)];
    expect(convergence([spec()], tasks, before).waiting).toEqual([]);
    expect(convergence([spec('updating')], tasks, before).waiting).toEqual(['p_app (update updating)']);
    expect(convergence([spec('rollback_started')], tasks, before).waiting).toHaveLength(1);
    expect(convergence([spec('paused')], tasks, before).waiting).toHaveLength(1);
  });

  it('keeps the running task of a service whose template the deploy did not change', () => {
    const same = { tasks: new Set(['old']), templates: new Map([['p_app', json(newTemplate)]]) };
    expect(convergence([spec('')], [task('old', newTemplate)], same).waiting).toEqual([]);
  });

  it('gives up on a new spec whose new tasks keep failing, not on failures from before', () => {
    const failed = (id: string) => ({ ...task(id, newTemplate, 'failed', 'shutdown'), error: 'task: non-zero exit (1)' });
    expect(convergence([spec('updating')], [task('old', oldTemplate), failed('n1'), failed('n2')], before).broken).toEqual(['p_app']);
    const earlier = { tasks: new Set(['old', 'n1', 'n2']), templates: before.templates };
    expect(convergence([spec('updating')], [task('old', oldTemplate), failed('n1'), failed('n2')], earlier).broken).toEqual([]);
  });
});

describe('pins pruned after a proven state', () => {
  it('keeps the pins its services name and those whose image a running container uses', () => {
    const pins = [{ tag: 'tenantctl-pin/p:aaaa', id: 'sha256:aaaa' }, { tag: 'tenantctl-pin/p:bbbb', id: 'sha256:bbbb' }, { tag: 'tenantctl-pin/p:cccc', id: 'sha256:cccc' }];
    expect(unusedPins(pins, new Set(['tenantctl-pin/p:aaaa']), new Set(['sha256:bbbb']))).toEqual(['tenantctl-pin/p:cccc']);
  });
});
