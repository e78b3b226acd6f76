import { describe, expect, it } from 'vitest';
import { choosePlacement, type PlacementCandidate } from '../../src/hosts/placement.js';
import { parseMemory } from '../../src/hosts/memory.js';
import { planMemoryBytes } from '../../src/hosts/store.js';
import { onTenantsHost, onNamedHost } from '../../src/hosts/resolve.js';
import { servedRoutes } from '../../src/frontdoor/fleet-routes.js';
import { DockerHost, parseDockerEndpoint } from '../../src/engine/docker-host.js';
import { TenantctlError } from '../../src/common/errors.js';
import type { Context, HostSpec } from '../../src/context.js';

const GiB = 1024 ** 3;
const host = (name: string, over: Partial<PlacementCandidate> = {}): PlacementCandidate => ({
  name, state: 'active', reachable: true, tenants: 0, memoryBytes: 8 * GiB, promisedMemoryBytes: 0, ...over,
});

describe('choosePlacement', () => {
  it('fewest-tenants: the host with the fewest live tenants; ties to the first name', () => {
    expect(choosePlacement([host('b', { tenants: 3 }), host('a', { tenants: 5 }), host('c', { tenants: 3 })], 'fewest-tenants', 0).host).toBe('b');
    expect(choosePlacement([host('b'), host('a')], 'fewest-tenants', 0)).toEqual({ host: 'a', reason: 'fewest tenants (0)' });
  });

  it('skips draining, removed and unreachable hosts, however empty they are', () => {
    const fleet = [host('a', { tenants: 9 }), host('b', { state: 'draining' }), host('c', { reachable: false }), host('d', { state: 'removed' })];
    expect(choosePlacement(fleet, 'fewest-tenants', 0).host).toBe('a');
    expect(choosePlacement(fleet, 'most-free-memory', 0).host).toBe('a');
  });

  it('most-free-memory: the most memory not promised to tenants, and only hosts where the plan fits', () => {
    const fleet = [host('a', { memoryBytes: 16 * GiB, promisedMemoryBytes: 14 * GiB }), host('b', { memoryBytes: 8 * GiB, promisedMemoryBytes: 2 * GiB, tenants: 10 })];
    expect(choosePlacement(fleet, 'most-free-memory', GiB).host).toBe('b');
    expect(choosePlacement(fleet, 'fewest-tenants', GiB).host).toBe('a');
    expect(() => choosePlacement(fleet, 'most-free-memory', 7 * GiB)).toThrow(/no Docker host can take a new tenant \(a: not enough free memory; b: not enough free memory\)/);
  });

  it('no candidate at all: exit 5 with each host\'s reason', () => {
    try {
      choosePlacement([host('a', { state: 'draining' }), host('b', { reachable: false })], 'fewest-tenants', 0);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TenantctlError);
      expect((error as TenantctlError).exitCode).toBe(5);
      expect((error as Error).message).toContain('a: draining; b: not reachable');
    }
  });
});

describe('memory sizes', () => {
  it('reads plan limits and docker stats figures', () => {
    expect(parseMemory('512m')).toBe(512 * 1024 ** 2);
    expect(parseMemory('1g')).toBe(GiB);
    expect(parseMemory('12.5MiB')).toBe(Math.round(12.5 * 1024 ** 2));
    expect(parseMemory('1.5GB')).toBe(1.5e9);
    expect(parseMemory('--')).toBe(0);
  });
  it('a plan promises the sum of its containers\' limits', () => {
    expect(planMemoryBytes('standard')).toBe((512 + 256 + 1024 + 256) * 1024 ** 2);
    expect(planMemoryBytes('enterprise')).toBeGreaterThan(planMemoryBytes('starter'));
  });
});

/**
 * A context over a fake admin database: tenants name hosts, hosts have endpoints. The engines are
 * never asked here except the probe, which is stubbed by the endpoint: 'tcp://down:2375' does not answer.
 */
function fakeContext(tenants: Record<string, { host: string; status?: string }>, hosts: Record<string, string | null>) {
  const built: HostSpec[] = [];
  const query = async (sql: string, params: unknown[] = []) => {
    if (sql.includes('FROM admin_customers WHERE id')) {
      const t = tenants[params[0] as string];
      return { rows: t ? [{ id: params[0], name: params[0], plan: 'standard', status: t.status ?? 'active', host: t.host, kept_data: false, compose_project: `t-${params[0]}`, created_at: new Date(), updated_at: new Date() }] : [] };
    }
    if (sql.includes('LEFT JOIN admin_customer_domains')) {
      // The front door's routes: every tenant not deprovisioned, with its host.
      return { rows: Object.entries(tenants).filter(([, t]) => (t.status ?? 'active') !== 'deprovisioned').map(([id, t]) => ({ id, plan: 'standard', status: t.status ?? 'active', app_port: 3001, host: t.host, domains: [] })) };
    }
    // No operation left unfinished: nothing to settle before routing.
    if (sql.includes('FROM admin_operations')) return { rows: [] };
    if (sql.includes('FROM admin_hosts WHERE name')) {
      const name = params[0] as string;
      return { rows: name in hosts ? [{ name, docker_endpoint: hosts[name], kind: 'compose', state: 'active', created_at: new Date(), updated_at: new Date() }] : [] };
    }
    throw new Error(`unexpected query ${sql}`);
  };
  const db = { pool: { query }, unreachable: (e: unknown) => { throw e; } };
  const home = new DockerHost('home', parseDockerEndpoint(undefined));
  const ctx = {
    config: { stateDir: '/tmp', bindAddress: '127.0.0.1' },
    dockerHost: home,
    homeHost: home,
    signal: new AbortController().signal,
    adminDb: async () => db,
    hostFor: (spec: HostSpec) => {
      built.push(spec);
      const h = new DockerHost(spec.name, parseDockerEndpoint(spec.endpoint));
      // The probe's one docker call, answered without an engine.
      h.docker = async () => {
        if (spec.endpoint.includes('down')) throw new TenantctlError('docker', 'the Docker engine is not reachable: connection refused');
        return '20.10.24\t2\t4000000000\tinactive\n';
      };
      return h;
    },
  } as unknown as Context;
  return { ctx, built };
}

describe('resolving a tenant to its Docker host', () => {
  const { ctx, built } = fakeContext(
    { acme: { host: 'home' }, globex: { host: 'web2' }, initech: { host: 'web3' }, old: { host: 'web3', status: 'deprovisioned' }, elsewhere: { host: 'other-env' } },
    { home: null, web2: 'tcp://10.0.0.2:2375', web3: 'tcp://down:2375', 'other-env': null },
  );
  const hostOf = (ids: string[]) => onTenantsHost(ctx, ids, async (c) => c.dockerHost.id);

  it('the environment\'s own tenants run on ctx.dockerHost itself', async () => {
    expect(await hostOf(['acme'])).toBe('home');
  });

  it('a tenant of a registered host runs on that host, built once per command', async () => {
    expect(await hostOf(['globex'])).toBe('web2');
    expect(await onTenantsHost(ctx, ['globex'], async (c) => c.homeHost.id)).toBe('home');
    expect(built.filter((s) => s.name === 'web2').length).toBeGreaterThanOrEqual(1);
  });

  it('a host that does not answer: exit 6 naming the tenant and the host, and the work never runs', async () => {
    let ran = false;
    const error = await onTenantsHost(ctx, ['initech'], async () => { ran = true; }).catch((e) => e);
    expect(ran).toBe(false);
    expect(error.exitCode).toBe(6);
    expect(error.message).toMatch(/^tenant initech is on Docker host web3 \(tcp:\/\/down:2375\), which does not answer: .*nothing was changed$/);
  });

  it('unknown, invalid and deprovisioned ids route nowhere: the command reports them itself', async () => {
    expect(await hostOf(['nobody'])).toBe('home');
    expect(await hostOf(['Not An Id'])).toBe('home');
    expect(await hostOf(['old'])).toBe('home');
  });

  it('an implicit host of another environment is left to the command\'s own refusal', async () => {
    expect(await hostOf(['elsewhere'])).toBe('home');
  });

  it('tenants on two hosts in one command: exit 2, naming each host\'s tenants', async () => {
    const error = await hostOf(['acme', 'globex']).catch((e) => e);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('home: acme; web2: globex');
  });

  it('--host names a registered host; an unknown one is exit 3', async () => {
    expect(await onNamedHost(ctx, 'web2', async (c) => c.dockerHost.id)).toBe('web2');
    expect(await onNamedHost(ctx, undefined, async (c) => c.dockerHost.id)).toBe('home');
    expect((await onNamedHost(ctx, 'nope', async () => 'x').catch((e) => e)).exitCode).toBe(3);
  });
});

describe('the front door across the fleet', () => {
  it('serves this host\'s tenants as before, a registered host\'s at that host\'s address, and leaves another environment\'s out', async () => {
    const { ctx } = fakeContext(
      { acme: { host: 'home' }, globex: { host: 'web2' }, initech: { host: 'web3', status: 'stopped' }, elsewhere: { host: 'other-env' } },
      { home: null, web2: 'tcp://10.0.0.2:2375', web3: 'ssh://root@10.0.0.3', 'other-env': null },
    );
    const db = await ctx.adminDb();
    const routes = await servedRoutes(ctx, db);
    expect(routes.map((r) => [r.id, r.host, r.publishedAddress])).toEqual([
      ['acme', 'home', undefined],
      ['globex', 'web2', '10.0.0.2'],
      ['initech', 'web3', '10.0.0.3'],
    ]);
  });
});
