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

/** The first block of the pool nobody holds, or undefined when the pool is full. */
export function firstFreeBlock(pool: SubnetPool, held: ReadonlySet<string>): string | undefined {
  const count = blockCount(pool);
  for (let index = 0; index < count; index++) {
    const block = blockAt(pool, index);
    if (!held.has(block)) return block;
  }
  return undefined;
}
