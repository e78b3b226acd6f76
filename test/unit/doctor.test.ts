import { describe, expect, it } from 'vitest';
import { findDiscrepancies, type Snapshot } from '../../src/doctor/findings.js';
import { parseServicePorts, swarmServicePorts } from '../../src/doctor/swarm-ports.js';

const services = ['app', 'db', 'redis', 'worker'];
const whole = (project: string, state = 'running') => ({
  project,
  containers: services.map((service, i) => ({ id: `c${i}`, service, state })),
  networks: [`${project}_tenant`],
  volumes: [`${project}_db-data`, `${project}_redis-data`],
});
const row = (id: string, status: string, extra: Partial<Snapshot['rows'][number]> = {}) => ({ id, status, keptData: false, composeProject: `t-${id}`, host: 'h1', ...extra });

function snapshot(over: Partial<Snapshot>): Snapshot {
  return { host: 'h1', engineId: 'E1', hosts: [{ name: 'h1', engineId: 'E1' }], elsewhere: {}, projectPrefix: 't', rows: [], allocations: [], operations: [], stacks: [], folders: [], expectedServices: services, ...over };
}
/** What a host another tenant is recorded on said: its engine and its containers of the project. */
const answered = (engineId: string, state = 'running', only = services) => ({ engineId, containers: only.map((service) => ({ service, state })) });

describe('findDiscrepancies', () => {
  it('settles an interrupted operation and judges nothing else of its tenant; one in flight is left alone', () => {
    const op = { verb: 'restore', step: 'swapped', startedAt: '2026-12-06T01:00:00.000Z', actor: 'ops', host: 'h1' };
    // A restore killed after stopping app and worker: the stack looks partial, but that is the restore's state.
    const stopped = { ...whole('t-acme'), containers: whole('t-acme').containers.map((c) => (c.service === 'app' || c.service === 'worker' ? { ...c, state: 'exited' } : c)) };
    const killed = snapshot({ rows: [row('acme', 'active')], stacks: [stopped], folders: ['acme'], operations: [{ tenant: 'acme', ...op, inFlight: false }] });
    expect(findDiscrepancies(killed)).toEqual([expect.objectContaining({ kind: 'interrupted-operation', tenant: 'acme', fixable: true, detail: expect.stringContaining('a restore of acme, at step swapped') })]);
    const running = snapshot({ ...killed, operations: [{ tenant: 'acme', ...op, inFlight: true }] });
    expect(findDiscrepancies(running)).toEqual([expect.objectContaining({ kind: 'operation-in-flight', tenant: 'acme', fixable: false })]);
    // A restore --as a new id killed during its provision: no 'stuck' repair of its own, the journal settles it.
    const fresh = snapshot({ rows: [row('copy', 'provisioning', { locked: false })], stacks: [whole('t-copy')], operations: [{ tenant: 'copy', ...op, step: 'begun', inFlight: false }] });
    expect(findDiscrepancies(fresh).map((f) => f.kind)).toEqual(['interrupted-operation']);
    // Another engine's operation is its doctor's.
    const elsewhere = snapshot({ operations: [{ tenant: 'far', ...op, host: 'h9', inFlight: false }] });
    expect(findDiscrepancies(elsewhere)).toEqual([]);
    // A move to this host is judged here too.
    const incoming = snapshot({ operations: [{ tenant: 'far', ...op, verb: 'move', host: 'h9', targetHost: 'h1', inFlight: false }] });
    expect(findDiscrepancies(incoming).map((f) => f.kind)).toEqual(['interrupted-operation']);
  });

  it('judges a stack by the tenant\'s own services (its template and profiles), not crm\'s', () => {
    const fb = { project: 't-fb', containers: ['frontend', 'backend', 'redis'].map((service, i) => ({ id: `f${i}`, service, state: 'running' })), networks: ['t-fb_tenant'], volumes: [] };
    const whole = snapshot({ rows: [row('fb', 'active', { expectedServices: ['frontend', 'backend', 'redis'] })], stacks: [fb], folders: ['fb'] });
    expect(findDiscrepancies(whole)).toEqual([]);
    const partial = snapshot({ rows: [row('fb', 'active', { expectedServices: ['frontend', 'backend', 'redis', 'edge'] })], stacks: [fb], folders: ['fb'] });
    expect(findDiscrepancies(partial)).toEqual([expect.objectContaining({ kind: 'partial-stack', tenant: 'fb', detail: expect.stringContaining('no edge container') })]);
  });

  it('a stopped swarm tenant with an ended task\'s container left (swarm reaps it a moment after the scale to 0) is not a partial stack', () => {
    const leftover = { ...whole('t-acme'), containers: [{ id: 'c0', service: 'app', state: 'exited' }] };
    expect(findDiscrepancies(snapshot({ swarm: true, rows: [row('acme', 'stopped')], stacks: [leftover], folders: ['acme'] }))).toEqual([]);
    // Active, the same stack is partial; off a swarm, a stopped one is too.
    expect(findDiscrepancies(snapshot({ swarm: true, rows: [row('acme', 'active')], stacks: [leftover], folders: ['acme'] })).map((f) => f.kind)).toEqual(['partial-stack']);
    expect(findDiscrepancies(snapshot({ rows: [row('acme', 'stopped')], stacks: [leftover], folders: ['acme'] })).map((f) => f.kind)).toEqual(['partial-stack']);
  });

  it('a remote or swarm tenant whose containers still publish its db or redis port: private-port-published, fixed by upgrade', () => {
    const withPorts = (ports: Record<string, string>) => ({ ...whole('t-old'), containers: whole('t-old').containers.map((c) => ({ ...c, ports: ports[c.service] ?? '' })) });
    const privatePorts = { db: 5440, redis: 6390 };
    const older = snapshot({ rows: [row('old', 'active', { privatePorts })], stacks: [withPorts({ app: '10.0.0.5:3005->3000/tcp', db: '0.0.0.0:5440->5432/tcp, :::5440->5432/tcp', redis: '0.0.0.0:6390->6379/tcp' })], folders: ['old'] });
    expect(findDiscrepancies(older)).toEqual([expect.objectContaining({
      kind: 'private-port-published', tenant: 'old', fixable: false, fix: expect.stringContaining('tenantctl upgrade old'), detail: expect.stringContaining('db db 5440, redis redis 6390'),
    })]);
    // On a swarm upgrade is refused: the fix says what is possible there.
    expect(findDiscrepancies({ ...older, swarm: true })[0]?.fix).toMatch(/tenantctl upgrade old/);
    // Only the front door's port published: nothing to say.
    const current = snapshot({ rows: [row('old', 'active', { privatePorts })], stacks: [withPorts({ app: '10.0.0.5:3005->3000/tcp' })], folders: ['old'] });
    expect(findDiscrepancies(current)).toEqual([]);
    // A local host (no privatePorts on the row): its loopback-published db port is expected.
    const local = snapshot({ rows: [row('old', 'active')], stacks: [withPorts({ db: '127.0.0.1:5440->5432/tcp' })], folders: ['old'] });
    expect(findDiscrepancies(local)).toEqual([]);
  });

  it('a swarm tenant publishing on the ingress routing mesh: swarm-ingress-published (db/redis named by service), host mode is fine, the fix is the docker service update', () => {
    const mesh = (service: string, published: number, target: number, mode = 'ingress') => ({ project: 't-old', service, published, target, mode });
    // No privatePorts on the row: which port is the database's is told by the service, not the number.
    const base = { swarm: true, rows: [row('old', 'active')], stacks: [whole('t-old')], folders: ['old'] };
    // What `docker service inspect` says (hand edits: db and redis on the mesh, the app in host mode;
    // redis's spec has no published number, the swarm gave it one: only .Endpoint.Ports says 30001).
    const inspected = [
      ['t-old_db', 't-old', { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 5432, PublishedPort: 5440 }] }, null],
      ['t-old_redis', 't-old', { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 6379, PublishMode: 'ingress' }] }, [{ Protocol: 'tcp', TargetPort: 6379, PublishedPort: 30001, PublishMode: 'ingress' }]],
      ['t-old_app', 't-old', { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 3000, PublishedPort: 3005, PublishMode: 'host' }] }, null],
      ['t-old_worker', 't-old', { Mode: 'dnsrr' }, null],
      ['someone_else', '', null, null],
    ].map((fields) => fields.map((f) => JSON.stringify(f)).join('\t')).join('\n');
    const swarmPorts = parseServicePorts(inspected);
    expect(swarmPorts).toEqual([mesh('db', 5440, 5432), mesh('redis', 30001, 6379), mesh('app', 3005, 3000, 'host')]);
    const found = findDiscrepancies(snapshot({ ...base, swarmPorts }));
    expect(found).toEqual([expect.objectContaining({
      kind: 'swarm-ingress-published', tenant: 'old', fixable: false,
      fix: expect.stringContaining('docker service update --publish-rm 5432 --endpoint-mode dnsrr t-old_db; docker service update --publish-rm 6379 --endpoint-mode dnsrr t-old_redis'),
      detail: expect.stringMatching(/db 5440->5432 \(its database port\), redis 30001->6379 \(its Redis port\) on the swarm's ingress routing mesh: its database and Redis ports open .*DOCKER-USER/),
    })]);
    // Only the door's port on the mesh (even when its number is one privatePorts gives the db): every node answering on it; back to host mode.
    const doorOnly = findDiscrepancies(snapshot({ ...base, rows: [row('old', 'active', { privatePorts: { db: 3005 } })], swarmPorts: [mesh('app', 3005, 3000)] }));
    expect(doorOnly).toEqual([expect.objectContaining({
      kind: 'swarm-ingress-published', detail: expect.stringContaining('every node answers on it'),
      fix: expect.stringContaining('docker service update --publish-rm 3000 --publish-add mode=host,published=3005,target=3000 --endpoint-mode dnsrr t-old_app'),
    })]);
    // As tenantctl renders it (the door's port in host mode, nothing else published): nothing to say.
    expect(findDiscrepancies(snapshot({ ...base, swarmPorts: [mesh('app', 3005, 3000, 'host')] }))).toEqual([]);
    // Another stack's ports, a deprovisioned tenant, or a host that is no swarm: not this finding.
    expect(findDiscrepancies(snapshot({ ...base, swarmPorts: [{ ...mesh('db', 5440, 5432), project: 't-other' }] }))).toEqual([]);
    expect(findDiscrepancies(snapshot({ ...base, swarm: false, swarmPorts }))).toEqual([]);
  });

  it('swarm service ports: a service gone between the listing and the inspect is skipped, not a failed doctor', async () => {
    const line = ['t-a_db', 't-a', { Ports: [{ TargetPort: 5432, PublishedPort: 5440 }] }, null].map((f) => JSON.stringify(f)).join('\t');
    const calls: string[][] = [];
    const manager = {
      docker: async (args: string[]) => {
        calls.push(args);
        if (args[1] === 'ls') return 'id-a\nid-gone\n';
        if (args.includes('id-gone')) throw new Error('Error response from daemon: no such service: id-gone');
        return line;
      },
    } as unknown as import('../../src/engine/docker-host.js').DockerHost;
    expect(await swarmServicePorts(manager)).toEqual([{ project: 't-a', service: 'db', published: 5440, target: 5432, mode: 'ingress' }]);
    expect(calls.length).toBe(4); // ls, the batch, then each alone
    const broken = { docker: async (args: string[]) => { if (args[1] === 'ls') return 'id-a\n'; throw new Error('Cannot connect to the Docker daemon'); } } as unknown as import('../../src/engine/docker-host.js').DockerHost;
    await expect(swarmServicePorts(broken)).rejects.toThrow(/Cannot connect/);
  });

  it('finds nothing when the registry, allocations, folders and Docker agree', () => {
    const s = snapshot({
      rows: [row('acme', 'active'), row('old', 'deprovisioned'), row('kept', 'deprovisioned', { keptData: true })],
      stacks: [whole('t-acme'), { project: 't-kept', containers: [], networks: [], volumes: ['t-kept_db-data'] }],
      allocations: [{ customerId: 'acme', kind: 'port', value: '3001', host: 'h1' }],
      folders: ['acme', 'kept'],
    });
    expect(findDiscrepancies(s)).toEqual([]);
  });

  it('names each discrepancy with its fix, and marks as fixable only what loses no data', () => {
    const s = snapshot({
      rows: [
        row('gone', 'active'), row('half', 'active'), row('stuck', 'provisioning', { locked: false }), row('busy', 'provisioning', { locked: true }),
        row('undead', 'deprovisioned'), row('leaving', 'deprovisioning', { locked: false, keptData: true }),
      ],
      stacks: [
        { ...whole('t-half'), containers: whole('t-half').containers.filter((c) => c.service !== 'worker').map((c) => (c.service === 'db' ? { ...c, state: 'exited' } : c)) },
        whole('t-stuck'), whole('t-busy'), whole('t-ghost'), { ...whole('t-undead'), volumes: [] },
        whole('other-prefix-x'), // another registry's stack on the same host: not ours to judge
      ],
      allocations: [{ customerId: 'undead', kind: 'port', value: '3009', host: 'h1' }, { customerId: 'stuck', kind: 'port', value: '3010', host: 'h1' }],
      folders: ['zombie', 'undead'],
    });
    const found = findDiscrepancies(s).map((f) => [f.kind, f.tenant, f.fixable]);
    expect(found).toEqual(expect.arrayContaining([
      // No row, or a row deprovisioned without its data: another registry's tenant, maybe live: never removed here.
      ['orphan-stack', 'ghost', false],
      ['orphan-stack', 'undead', false],
      ['missing-stack', 'gone', false],
      ['partial-stack', 'half', false],
      ['stuck', 'stuck', true],
      ['stuck', 'leaving', false],
      ['stray-allocation', 'undead', true],
      ['orphan-folder', 'zombie', false],
      ['stale-folder', 'undead', true],
    ]));
    expect(found).toHaveLength(9); // busy (lock held) and other-prefix-x are fine
    const half = findDiscrepancies(s).find((f) => f.tenant === 'half')!;
    expect(half.detail).toContain('no worker container');
    expect(half.detail).toContain('db exited');
    expect(findDiscrepancies(s).find((f) => f.tenant === 'leaving')!.fix).toBe('tenantctl deprovision leaving --yes --keep-data');
  });

  it('a stack of a tenant recorded on another host is a move\'s leftovers: the fix stays on this host, never deprovision', () => {
    // A move from h2 to h1 that failed half-way left this on h1; the tenant lives on h2, another
    // engine (E2) that said so when asked: every service of it running there.
    const s = snapshot({
      hosts: [{ name: 'h1', engineId: 'E1' }, { name: 'h2', engineId: 'E2' }],
      elsewhere: { moved: answered('E2') },
      rows: [row('moved', 'active', { host: 'h2' })], stacks: [whole('t-moved')],
    });
    const found = findDiscrepancies(s);
    expect(found).toHaveLength(1);
    const [leftover] = found;
    expect(leftover).toMatchObject({ kind: 'orphan-stack', tenant: 'moved', fixable: true });
    expect(leftover!.detail).toContain('recorded on Docker host h2');
    expect(leftover!.fix).toMatch(/^tenantctl doctor --host h1 --fix /);
    expect(leftover!.fix).toContain('tenantctl move moved --to h1');
    expect(leftover!.fix).toContain('t-moved_db-data');
    expect(leftover!.fix).not.toMatch(/tenantctl deprovision/);
    // Volumes alone: listed, not fixable (doctor never removes a volume), still never deprovision.
    const volumesOnly = findDiscrepancies({ ...s, stacks: [{ ...whole('t-moved'), containers: [], networks: [] }] });
    expect(volumesOnly).toEqual([expect.objectContaining({ kind: 'orphan-stack', fixable: false })]);
    expect(volumesOnly[0]!.fix).not.toMatch(/tenantctl deprovision/);
  });

  it('the same engine under a renamed host id (review item 4): its tenants are judged here, nothing is fixable, a host-alias finding names the old name', () => {
    // Provisioned while the host id was h1 (its engine ID recorded then); doctor now runs as
    // TENANTCTL_HOST_ID=renamed on the same engine. Before: "leftovers of a move ... fixed", 4 running -> 0.
    const s = snapshot({
      host: 'renamed',
      hosts: [{ name: 'h1', engineId: 'E1' }],
      rows: [row('acme', 'active')],
      stacks: [whole('t-acme')],
      allocations: [{ customerId: 'acme', kind: 'port', value: '3001', host: 'h1' }],
      folders: ['acme'],
    });
    const found = findDiscrepancies(s);
    expect(found).toEqual([expect.objectContaining({ kind: 'host-alias', tenant: '', host: 'h1', fixable: false })]);
    expect(found[0]!.detail).toContain('recorded as Docker host h1');
    expect(found[0]!.detail).toContain('calls it renamed');
    expect(found[0]!.fix).toContain('TENANTCTL_HOST_ID=h1');
    expect(found.filter((f) => f.fixable)).toEqual([]); // doctor --fix touches nothing: the running containers stay
  });

  it('a host recorded before engine IDs were, which says it is this same engine: not leftovers, set TENANTCTL_HOST_ID', () => {
    const s = snapshot({
      hosts: [{ name: 'h1', engineId: 'E1' }, { name: 'old', engineId: null }],
      elsewhere: { acme: answered('E1') }, // asking "old" reached this engine: the same containers
      rows: [row('acme', 'active', { host: 'old' })], stacks: [whole('t-acme')],
    });
    const [finding, ...rest] = findDiscrepancies(s);
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({ kind: 'orphan-stack', tenant: 'acme', fixable: false });
    expect(finding!.detail).toContain('Docker host old is this same engine (ID E1) under another name');
    expect(finding!.fix).toContain('TENANTCTL_HOST_ID=old');
    expect(finding!.detail).not.toContain('leftovers of a move, not its live stack');
  });

  it('another host that does not answer: nothing removed, the reason named', () => {
    const s = snapshot({
      hosts: [{ name: 'h1', engineId: 'E1' }, { name: 'h2', engineId: 'E2' }],
      elsewhere: { moved: { unreachable: 'docker info did not answer within 5 s' } },
      rows: [row('moved', 'active', { host: 'h2' })], stacks: [whole('t-moved')],
    });
    const [finding] = findDiscrepancies(s);
    expect(finding).toMatchObject({ kind: 'orphan-stack', fixable: false });
    expect(finding!.detail).toContain('Docker host h2 does not answer (docker info did not answer within 5 s)');
    expect(finding!.fix).not.toMatch(/tenantctl deprovision/);
  });

  it('another host whose engine ID is unknown (implicit, of another environment, nothing recorded): it may be this engine, nothing removed', () => {
    const s = snapshot({
      hosts: [{ name: 'h1', engineId: 'E1' }, { name: 'laptop', engineId: null }],
      elsewhere: { acme: { unreachable: 'laptop is known only by name here (no endpoint registered): only its own environment reaches it' } },
      rows: [row('acme', 'active', { host: 'laptop' })], stacks: [whole('t-acme')],
    });
    const [finding] = findDiscrepancies(s);
    expect(finding).toMatchObject({ kind: 'orphan-stack', fixable: false });
    expect(finding!.detail).toContain('the engine ID of Docker host laptop is unknown');
    expect(finding!.fix).toContain('TENANTCTL_HOST_ID=laptop');
  });

  it('another engine where the tenant is not running (or only partly): this may be its only stack, nothing removed', () => {
    const base = { hosts: [{ name: 'h1', engineId: 'E1' }, { name: 'h2', engineId: 'E2' }], rows: [row('moved', 'active', { host: 'h2' })], stacks: [whole('t-moved')] };
    for (const there of [answered('E2', 'exited'), answered('E2', 'running', []), answered('E2', 'running', ['db', 'redis'])]) {
      const [finding, ...rest] = findDiscrepancies(snapshot({ ...base, elsewhere: { moved: there } }));
      expect(rest).toEqual([]);
      expect(finding).toMatchObject({ kind: 'orphan-stack', tenant: 'moved', fixable: false });
      expect(finding!.detail).toContain('moved is not running on Docker host h2');
    }
    // The engine it answered with is what counts, not only the one recorded.
    const liveIsThisOne = findDiscrepancies(snapshot({ ...base, elsewhere: { moved: answered('E1') } }));
    expect(liveIsThisOne).toEqual([expect.objectContaining({ kind: 'orphan-stack', fixable: false, detail: expect.stringContaining('this same engine') })]);
  });

  it('this engine did not say its ID: no stack is judged another host\'s leftovers', () => {
    const s = snapshot({ engineId: undefined, hosts: [{ name: 'h1', engineId: null }, { name: 'h2', engineId: 'E2' }], elsewhere: { moved: answered('E2') }, rows: [row('moved', 'active', { host: 'h2' })], stacks: [whole('t-moved')] });
    expect(findDiscrepancies(s)).toEqual([expect.objectContaining({ kind: 'orphan-stack', fixable: false, detail: expect.stringContaining('did not say its ID') })]);
  });

  it('this host\'s name recorded as another engine (two machines with one hostname): a host-mismatch, its tenants not judged here, nothing removed', () => {
    const s = snapshot({
      hosts: [{ name: 'h1', engineId: 'E9' }],
      rows: [row('theirs', 'active'), row('clash', 'active')],
      stacks: [whole('t-clash')], // a stack of the same project name on this engine
      allocations: [{ customerId: 'theirs', kind: 'port', value: '3001', host: 'h1' }],
    });
    const found = findDiscrepancies(s);
    expect(found.map((f) => [f.kind, f.tenant, f.fixable])).toEqual([['host-mismatch', '', false], ['orphan-stack', 'clash', false]]);
    expect(found[0]!.detail).toContain('recorded as engine E9');
    expect(found[1]!.detail).toContain('recorded as engine E9, but this is engine E1');
  });

  it('rows and allocations recorded under an alias are this engine\'s: a missing stack and a stray allocation there are found', () => {
    const s = snapshot({
      hosts: [{ name: 'h1', engineId: 'E1' }, { name: 'old', engineId: 'E1', removed: true }],
      rows: [row('gone', 'active', { host: 'old' }), row('done', 'deprovisioned', { host: 'old' })],
      allocations: [{ customerId: 'done', kind: 'port', value: '3002', host: 'old' }],
    });
    // A removed host keeps its engine ID as history: its rows are judged here, but it is no alias to report.
    expect(findDiscrepancies(s).map((f) => [f.kind, f.tenant, f.fixable])).toEqual([['missing-stack', 'gone', false], ['stray-allocation', 'done', true]]);
  });

  it('judges only this host\'s rows and allocations', () => {
    const s = snapshot({ rows: [row('far', 'active', { host: 'h2' })], allocations: [{ customerId: 'nobody', kind: 'port', value: '1', host: 'h2' }] });
    expect(findDiscrepancies(s)).toEqual([]);
  });
});
