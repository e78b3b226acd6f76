import { describe, expect, it } from 'vitest';
import { findDiscrepancies, type Snapshot } from '../../src/doctor/findings.js';

const services = ['app', 'db', 'redis', 'worker'];
const whole = (project: string, state = 'running') => ({
  project,
  containers: services.map((service, i) => ({ id: `c${i}`, service, state })),
  networks: [`${project}_tenant`],
  volumes: [`${project}_db-data`, `${project}_redis-data`],
});
const row = (id: string, status: string, extra: Partial<Snapshot['rows'][number]> = {}) => ({ id, status, keptData: false, composeProject: `t-${id}`, host: 'h1', ...extra });

function snapshot(over: Partial<Snapshot>): Snapshot {
  return { host: 'h1', projectPrefix: 't', rows: [], allocations: [], stacks: [], folders: [], expectedServices: services, ...over };
}

describe('findDiscrepancies', () => {
  it('judges a stack by the tenant\'s own services (its template and profiles), not crm\'s', () => {
    const fb = { project: 't-fb', containers: ['frontend', 'backend', 'redis'].map((service, i) => ({ id: `f${i}`, service, state: 'running' })), networks: ['t-fb_tenant'], volumes: [] };
    const whole = snapshot({ rows: [row('fb', 'active', { expectedServices: ['frontend', 'backend', 'redis'] })], stacks: [fb], folders: ['fb'] });
    expect(findDiscrepancies(whole)).toEqual([]);
    const partial = snapshot({ rows: [row('fb', 'active', { expectedServices: ['frontend', 'backend', 'redis', 'edge'] })], stacks: [fb], folders: ['fb'] });
    expect(findDiscrepancies(partial)).toEqual([expect.objectContaining({ kind: 'partial-stack', tenant: 'fb', detail: expect.stringContaining('no edge container') })]);
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
      ['orphan-stack', 'ghost', true],
      ['orphan-stack', 'undead', true],
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
    // A move from h2 to h1 that failed half-way left this on h1; the tenant lives on h2.
    const s = snapshot({ rows: [row('moved', 'active', { host: 'h2' })], stacks: [whole('t-moved')] });
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
    const volumesOnly = findDiscrepancies(snapshot({ rows: [row('moved', 'active', { host: 'h2' })], stacks: [{ ...whole('t-moved'), containers: [], networks: [] }] }));
    expect(volumesOnly).toEqual([expect.objectContaining({ kind: 'orphan-stack', fixable: false })]);
    expect(volumesOnly[0]!.fix).not.toMatch(/tenantctl deprovision/);
  });

  it('judges only this host\'s rows and allocations', () => {
    const s = snapshot({ rows: [row('far', 'active', { host: 'h2' })], allocations: [{ customerId: 'nobody', kind: 'port', value: '1', host: 'h2' }] });
    expect(findDiscrepancies(s)).toEqual([]);
  });
});
