import { describe, expect, it } from 'vitest';
import { numericUser, planVolumes, serviceMoves, userDrift, type ServiceNow } from '../../src/upgrades/reown-plan.js';

// The upgrade's re-own plan from the numbers the services run as (src/upgrades/reown-plan.ts): a
// container recreated on the rebuilt image under its old user: line is still moved; a template
// contradicting its new image is refused; a volume two services mount moves with both stopped.

const db = (runsAs: string, willRunAs?: string, volumes = ['p_db-data']): ServiceNow => ({ service: 'db', volumes, runsAs, willRunAs });
const oldPasswd = 'root:x:0:0:root:/root:/bin/bash\npostgres:x:101:103::/var/lib/postgresql:/bin/bash\nroot:x:0:\npostgres:x:103:\n';
const newPasswd = oldPasswd.replace('postgres:x:101:103:', 'postgres:x:70001:70001:').replace('postgres:x:103:', 'postgres:x:70001:');

describe('reown plan', () => {
  it('reads numeric users only', () => {
    expect(numericUser('101:103')).toEqual({ uid: 101, gid: 103 });
    expect(numericUser('70001')).toEqual({ uid: 70001, gid: undefined });
    expect(numericUser('postgres')).toBeUndefined();
    expect(numericUser('')).toBeUndefined();
  });

  it('moves from the numbers the container runs as to the new user: line, whichever image it runs', () => {
    // The H1 case: recreated on the new image as 101:103 (from === to image): still moved.
    expect(planVolumes([db('101:103', '70001:70001')])).toEqual([{ volume: 'p_db-data', services: ['db'], moves: {
      users: [{ name: 'db', from: 101, to: 70001 }], groups: [{ name: 'db', from: 103, to: 70001 }] } }]);
    // Already on the new numbers: nothing, whatever the images say by name.
    expect(planVolumes([{ ...db('70001:70001', '70001:70001'), byName: { users: [{ name: 'postgres', from: 101, to: 70001 }], groups: [] } }])).toEqual([]);
    // Root is never moved nor given.
    expect(serviceMoves(db('0:0', '70001:70001'))).toEqual({ users: [], groups: [] });
  });

  it('falls back to the images\' moves by name for a service that starts as root', () => {
    const byName = { users: [{ name: 'postgres', from: 101, to: 70001 }], groups: [] };
    expect(serviceMoves({ ...db('', undefined), byName })).toEqual(byName);
    expect(serviceMoves(db('', undefined))).toEqual({ users: [], groups: [] });
  });

  it('stops every service mounting a moved volume, and refuses one that would still run as the old number', () => {
    const backup: ServiceNow = { service: 'sidecar', volumes: ['p_db-data'], runsAs: '0', willRunAs: '0' };
    expect(planVolumes([db('101:103', '70001:70001'), backup])[0]!.services).toEqual(['db', 'sidecar']);
    const stale: ServiceNow = { service: 'reader', volumes: ['p_db-data'], runsAs: '101:103', willRunAs: '101:103' };
    expect(() => planVolumes([db('101:103', '70001:70001'), stale])).toThrow(/reader, which mounts it too, would still run as 101:103/);
    const other: ServiceNow = { service: 'other', volumes: ['p_db-data'], runsAs: '101:103', willRunAs: '70009:70009' };
    expect(() => planVolumes([db('101:103', '70001:70001'), other])).toThrow(/would move its owners differently/);
  });

  it('refuses a user: line the new image contradicts (the operator\'s template drifting), not one that matches', () => {
    expect(userDrift('db', '101:103', oldPasswd, newPasswd)).toMatch(/runs db as user "101:103", but its new image gives user postgres 70001 \(was 101\)/);
    expect(userDrift('db', '70001:70001', oldPasswd, newPasswd)).toBeUndefined();
    expect(userDrift('db', '101:103', oldPasswd, oldPasswd)).toBeUndefined();
    expect(userDrift('db', undefined, oldPasswd, newPasswd)).toBeUndefined();
  });
});
