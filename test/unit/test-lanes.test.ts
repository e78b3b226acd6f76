import { describe, expect, it } from 'vitest';
import { currentLane, laneEnv } from '../e2e/lanes.js';

const rangeOf = (raw: string) => raw.split('-').map(Number) as [number, number];
const portsOf = (env: Record<string, string>) => ['TENANTCTL_APP_PORTS', 'TENANTCTL_DB_PORTS', 'TENANTCTL_REDIS_PORTS'].map((name) => rangeOf(env[name]!));
const overlap = (a: [number, number], b: [number, number]) => a[0] <= b[1] && b[0] <= a[1];

// What the e2e files ask for today (createHarness's extra env), and the defaults (nothing set).
const asked: Array<Record<string, string>> = [
  {},
  { TENANTCTL_APP_PORTS: '4750-4799', TENANTCTL_DB_PORTS: '5750-5799', TENANTCTL_REDIS_PORTS: '6750-6799', TENANTCTL_SUBNET_POOL: '10.201.0.0/16' },
  { TENANTCTL_APP_PORTS: '4930-4939', TENANTCTL_DB_PORTS: '5930-5939', TENANTCTL_REDIS_PORTS: '6930-6939', TENANTCTL_SUBNET_POOL: '10.190.0.0/16' },
  { TENANTCTL_APP_PORTS: '23100-23199', TENANTCTL_DB_PORTS: '23200-23299', TENANTCTL_REDIS_PORTS: '23300-23399' },
  { TENANTCTL_APP_PORTS: '28800-28849', TENANTCTL_DB_PORTS: '28850-28899', TENANTCTL_REDIS_PORTS: '28900-28949', TENANTCTL_SUBNET_POOL: '10.123.0.0/16' },
];

describe('test lanes: tenant ports and subnets per lane', () => {
  it('change nothing without a lane', () => {
    for (const env of asked) expect(laneEnv({ ...env, TENANTCTL_ACTOR: 'x' }, undefined)).toEqual({ ...env, TENANTCTL_ACTOR: 'x' });
  });

  it('move a file\'s three ranges together into the lane\'s window, sizes and layout kept, other settings untouched', () => {
    expect(laneEnv({ TENANTCTL_ACTOR: 'x' }, 1)).toEqual({
      TENANTCTL_ACTOR: 'x',
      TENANTCTL_APP_PORTS: '10000-10998', TENANTCTL_DB_PORTS: '12433-12998', TENANTCTL_REDIS_PORTS: '13379-13998',
      TENANTCTL_SUBNET_POOL: '10.122.0.0/16',
    });
    expect(laneEnv(asked[1]!, 2)).toMatchObject({ TENANTCTL_APP_PORTS: '15000-15049', TENANTCTL_DB_PORTS: '16000-16049', TENANTCTL_REDIS_PORTS: '17000-17049', TENANTCTL_SUBNET_POOL: '10.201.0.0/16' });
  });

  it('keep any file of lane 1 apart from any file of lane 2, and from tenantctl\'s defaults and Linux\'s ephemeral ports', () => {
    const defaults: Array<[number, number]> = [[3001, 3999], [5434, 5999], [6380, 6999]];
    for (const one of asked) {
      for (const two of asked) {
        const [a, b] = [laneEnv(one, 1), laneEnv(two, 2)];
        for (const x of portsOf(a)) {
          for (const y of portsOf(b)) expect(overlap(x, y), `${x} ${y}`).toBe(false);
          for (const d of defaults) expect(overlap(x, d)).toBe(false);
          expect(x[1]).toBeLessThan(32_768);
        }
        expect(Number(a.TENANTCTL_SUBNET_POOL!.split('.')[1]) % 2).toBe(0);
        expect(Number(b.TENANTCTL_SUBNET_POOL!.split('.')[1]) % 2).toBe(1);
      }
    }
  });

  it('refuse what a lane cannot hold: ranges spanning more than its window, a pool not inside one 10.X.0.0/16', () => {
    expect(() => laneEnv({ TENANTCTL_APP_PORTS: '3000-3099', TENANTCTL_DB_PORTS: '9000-9099' }, 1)).toThrow(/span more than a lane's 5000 ports/);
    expect(() => laneEnv({ TENANTCTL_SUBNET_POOL: '172.20.0.0/16' }, 2)).toThrow(/not inside one 10\.X\.0\.0\/16/);
    expect(() => laneEnv({ TENANTCTL_SUBNET_POOL: '10.0.0.0/8' }, 2)).toThrow(/not inside one 10\.X\.0\.0\/16/);
  });

  it('read the lane from TENANTCTL_TEST_LANE: none, 1 or 2', () => {
    expect(currentLane({})).toBeUndefined();
    expect(currentLane({ TENANTCTL_TEST_LANE: '2' })).toBe(2);
    expect(() => currentLane({ TENANTCTL_TEST_LANE: '3' })).toThrow(/from 1 to 2/);
  });
});
