import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { blockAt, blockCount, firstFreeBlock, parsePool } from '../../src/allocation/subnets.js';
import { choosePorts } from '../../src/allocation/ports.js';
import { DockerHost } from '../../src/engine/docker-host.js';

describe('subnets', () => {
  it('cuts a /16 into 4096 /28 blocks', () => {
    const pool = parsePool('10.123.0.0/16', 28);
    expect(blockCount(pool)).toBe(4096);
    expect(blockAt(pool, 0)).toBe('10.123.0.0/28');
    expect(blockAt(pool, 1)).toBe('10.123.0.16/28');
    expect(blockAt(pool, 4095)).toBe('10.123.255.240/28');
  });

  it('normalises a pool given with host bits and refuses a block larger than the pool', () => {
    expect(blockAt(parsePool('10.123.7.9/16', 24), 2)).toBe('10.123.2.0/24');
    expect(() => parsePool('10.0.0.0/24', 16)).toThrow(/larger than the pool/);
  });

  it('skips blocks that overlap networks already on the host, whatever their size', () => {
    const pool = parsePool('10.123.0.0/16', 28);
    expect(firstFreeBlock(pool, new Set(), ['10.123.0.0/28'])).toBe('10.123.0.16/28');
    expect(firstFreeBlock(pool, new Set(), ['10.123.0.0/24', '172.17.0.0/16', 'fd00::/64'])).toBe('10.123.1.0/28');
    expect(firstFreeBlock(pool, new Set(['10.123.0.0/28']), ['10.123.0.20/30'])).toBe('10.123.0.32/28');
    expect(firstFreeBlock(parsePool('10.0.0.0/28', 29), new Set(), ['10.0.0.0/8'])).toBeUndefined();
  });

  it('hands out the first block nobody holds and reports a full pool', () => {
    const pool = parsePool('10.0.0.0/28', 29);
    expect(firstFreeBlock(pool, new Set())).toBe('10.0.0.0/29');
    expect(firstFreeBlock(pool, new Set(['10.0.0.0/29']))).toBe('10.0.0.8/29');
    expect(firstFreeBlock(pool, new Set(['10.0.0.0/29', '10.0.0.8/29']))).toBeUndefined();
  });
});

const ranges = { app: { from: 3001, to: 3010 }, db: { from: 5434, to: 5440 }, redis: { from: 6380, to: 6390 } };
/** A fake host where only the listed ports are busy: tests the planning, not get-port. */
const fakeHost = (busy: number[]) => {
  const isFree = async (port: number) => !busy.includes(port);
  const pick = async (range: { from: number; to: number }, exclude: ReadonlySet<number>) => {
    for (let p = range.from; p <= range.to; p++) if (!exclude.has(p) && (await isFree(p))) return p;
    return undefined;
  };
  return { isPortFree: isFree, firstFreePort: pick };
};

describe('choosePorts', () => {
  it('takes the first port of each range that is neither held nor busy', async () => {
    const choice = await choosePorts(fakeHost([3002, 6380]), ranges, new Set([3001, 5434]));
    expect(choice).toEqual({ ok: true, plan: { app: 3003, db: 5435, redis: 6381 } });
  });

  it('uses --port as given, and refuses it when held or busy instead of picking another', async () => {
    expect(await choosePorts(fakeHost([]), ranges, new Set(), { fixed: { name: 'app', port: 8080 } })).toEqual({ ok: true, plan: { app: 8080, db: 5434, redis: 6380 } });
    expect(await choosePorts(fakeHost([]), ranges, new Set([8080]), { fixed: { name: 'app', port: 8080 } })).toMatchObject({ ok: false, reason: /held by another tenant/ });
    expect(await choosePorts(fakeHost([8080]), ranges, new Set(), { fixed: { name: 'app', port: 8080 } })).toMatchObject({ ok: false, reason: /already in use/ });
  });

  it('overlapping ranges across names get distinct ports: reservations are per port', async () => {
    const overlapping = { backend: { from: 8000, to: 8999 }, frontend: { from: 8000, to: 8999 }, redis_http: { from: 8000, to: 8999 } };
    expect(await choosePorts(fakeHost([8001]), overlapping, new Set([8000]))).toEqual({ ok: true, plan: { backend: 8002, frontend: 8003, redis_http: 8004 } });
  });

  it('says which range is exhausted', async () => {
    const busy = Array.from({ length: 7 }, (_, i) => 5434 + i);
    expect(await choosePorts(fakeHost(busy), ranges, new Set())).toEqual({ ok: false, service: 'db', reason: 'no free port left in 5434-5440' });
  });
});

const localHost = new DockerHost('test', { kind: 'local' });

describe('firstFreePort on the real host', () => {
  it('skips a port something is listening on, and excluded ports', async () => {
    const server = net.createServer();
    const busyPort: number = await new Promise((resolve) => server.listen(0, () => resolve((server.address() as net.AddressInfo).port)));
    try {
      expect(await localHost.firstFreePort({ from: busyPort, to: busyPort }, new Set())).toBeUndefined();
      const next = await localHost.firstFreePort({ from: busyPort, to: busyPort + 20 }, new Set([busyPort + 1]));
      expect(next).toBeGreaterThan(busyPort + 1);
    } finally {
      server.close();
    }
  });
});
