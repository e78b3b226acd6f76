// Pure subnet planning: a pool (e.g. 10.123.0.0/16) cut into equal blocks (e.g. /28), one per tenant.
// Explicit subnets are what lets one host carry hundreds of tenant networks: Docker's default
// address pools stop at about 30 networks.

export function parseIpv4(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`invalid IPv4 address ${JSON.stringify(address)}`);
  }
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export const formatIpv4 = (value: number) => [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');

export interface SubnetPool {
  base: number;
  poolPrefix: number;
  blockPrefix: number;
}

export function parsePool(pool: string, blockPrefix: number): SubnetPool {
  const [address, prefixText] = pool.split('/');
  const poolPrefix = Number(prefixText);
  if (!address || !Number.isInteger(poolPrefix) || poolPrefix < 8 || poolPrefix > 30) throw new Error(`invalid subnet pool ${JSON.stringify(pool)}`);
  if (blockPrefix < poolPrefix) throw new Error(`subnet prefix /${blockPrefix} is larger than the pool ${pool}`);
  const mask = poolPrefix === 0 ? 0 : (~0 << (32 - poolPrefix)) >>> 0;
  return { base: (parseIpv4(address) & mask) >>> 0, poolPrefix, blockPrefix };
}

export const blockCount = (pool: SubnetPool) => 2 ** (pool.blockPrefix - pool.poolPrefix);

export function blockAt(pool: SubnetPool, index: number): string {
  if (index < 0 || index >= blockCount(pool)) throw new Error(`block ${index} is outside the pool`);
  return `${formatIpv4((pool.base + index * 2 ** (32 - pool.blockPrefix)) >>> 0)}/${pool.blockPrefix}`;
}

/** [first, last] address of an IPv4 CIDR; undefined for anything else (IPv6 networks are no obstacle). */
export function cidrRange(cidr: string): [number, number] | undefined {
  const match = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
  if (!match) return undefined;
  const prefix = Number(match[2]);
  if (prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const start = Math.floor(parseIpv4(match[1]!) / size) * size;
  return [start, start + size - 1];
}

const overlaps = (a: [number, number], b: [number, number]) => a[0] <= b[1] && b[0] <= a[1];

/**
 * The first block of the pool that nobody holds in the registry and that overlaps no network
 * already on the host (`inUse`: subnets Docker reports, whoever made them), or undefined when full.
 */
export function firstFreeBlock(pool: SubnetPool, held: ReadonlySet<string>, inUse: readonly string[] = []): string | undefined {
  const taken = inUse.map(cidrRange).filter((r): r is [number, number] => r !== undefined);
  const count = blockCount(pool);
  for (let index = 0; index < count; index++) {
    const block = blockAt(pool, index);
    if (held.has(block)) continue;
    const range = cidrRange(block)!;
    if (!taken.some((t) => overlaps(t, range))) return block;
  }
  return undefined;
}
