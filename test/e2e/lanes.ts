// Test lanes (scripts/test.mjs): with lanes, two end-to-end files run at the same time on one Docker
// engine, each with its own admin database. Two registries then choose tenant host ports and subnets
// without seeing each other's reservations: a port one file checked free can be taken by the other
// before compose binds it, and a stopped or suspended tenant's ports are held only in its own
// registry, not bound on the host, so the other file may take them meanwhile and `start` would find
// them gone. So each lane gets host ports and subnets of its own, and the two never meet:
// - ports: the file's three ranges (TENANTCTL_APP_PORTS, _DB_PORTS, _REDIS_PORTS, or tenantctl's
//   defaults) are moved together, their layout and sizes kept, to the start of the lane's window
//   (lane 1: 10000-14999, lane 2: 15000-19999: below Linux's ephemeral ports, which getPort() and
//   Docker hand out, and apart from tenantctl's defaults, which the CI's demo tenant uses);
// - subnets: the file's pool (TENANTCTL_SUBNET_POOL, or the default 10.123.0.0/16) keeps its second
//   octet's parity for the lane: even in lane 1, odd in lane 2 (10.150 -> 10.150 or 10.151).
// Without a lane (TENANTCTL_TEST_LANE unset: `vitest run`, TENANTCTL_TEST_LANES=1, or the runner's
// files that run alone) nothing is changed.
//
// What stays outside these windows is kept apart by scripts/test.mjs's schedule instead (files that
// never run at the same time): a template's own port ranges (frontbase's), and what a file does on the
// whole host.
import { configSchema, type PortRange } from '../../src/config/schema.js';

export const laneVariable = 'TENANTCTL_TEST_LANE';
export const maxLanes = 2;
const portWindow = { first: 10_000, width: 5_000 };
const portVariables = { app: 'TENANTCTL_APP_PORTS', db: 'TENANTCTL_DB_PORTS', redis: 'TENANTCTL_REDIS_PORTS' } as const;
const poolVariable = 'TENANTCTL_SUBNET_POOL';

/** The lane this process runs in (1 or 2), or undefined without lanes. */
export function currentLane(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[laneVariable];
  if (raw === undefined || raw === '') return undefined;
  const lane = Number(raw);
  if (!Number.isInteger(lane) || lane < 1 || lane > maxLanes) throw new Error(`${laneVariable}=${raw}: must be a lane number from 1 to ${maxLanes}`);
  return lane;
}

const rangeOf = (name: string, raw: string): PortRange => {
  const match = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(raw);
  if (!match) throw new Error(`${name}=${raw}: not a port range from-to`);
  return { from: Number(match[1]), to: Number(match[2]) };
};

/**
 * The env a test file's tenantctl runs with in `lane`: its port ranges and subnet pool moved into the
 * lane's own (see above); every other variable as it is. Throws when the file's ranges span more than
 * a lane's window or its pool is not inside one 10.X.0.0/16: such a file needs this changed first.
 */
export function laneEnv(env: Record<string, string>, lane: number | undefined): Record<string, string> {
  if (lane === undefined) return env;
  const defaults = configSchema.parse({});
  const ranges = Object.entries(portVariables).map(([service, name]) => ({
    name,
    range: env[name] !== undefined ? rangeOf(name, env[name]!) : defaults.ports[service as keyof typeof portVariables],
  }));
  const lowest = Math.min(...ranges.map(({ range }) => range.from));
  const highest = Math.max(...ranges.map(({ range }) => range.to));
  if (highest - lowest >= portWindow.width) {
    throw new Error(`lane ${lane}: the port ranges ${ranges.map(({ name, range }) => `${name}=${range.from}-${range.to}`).join(' ')} span more than a lane's ${portWindow.width} ports`);
  }
  const shift = portWindow.first + (lane - 1) * portWindow.width - lowest;
  const moved = Object.fromEntries(ranges.map(({ name, range }) => [name, `${range.from + shift}-${range.to + shift}`]));

  const pool = env[poolVariable] ?? defaults.subnets.pool;
  const match = /^10\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(pool);
  if (!match || Number(match[4]) < 16) throw new Error(`lane ${lane}: ${poolVariable}=${pool} is not inside one 10.X.0.0/16, which lanes split by X`);
  const second = Number(match[1]);
  const laneSecond = second - (second % maxLanes) + (lane - 1);
  return { ...env, ...moved, [poolVariable]: `10.${laneSecond}.${match[2]}.${match[3]}/${match[4]}` };
}
