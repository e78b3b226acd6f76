// A swarm tenant publishes its ports on the node its stack is pinned to, not on the manager: its app
// URL (provision, appUrlFor with the node's DockerHost) and the front door's upstream
// (src/frontdoor/fleet-routes.ts) name that node. The manager's engine is faked: it answers the
// calls tenantNodes makes (service ls, service inspect, node ls, node inspect).
import { describe, expect, it } from 'vitest';
import { publishedAddressOf, servedRoutes } from '../../src/frontdoor/fleet-routes.js';
import { appUrlFor, type Context, type HostSpec } from '../../src/context.js';
import { DockerHost, parseDockerEndpoint } from '../../src/engine/docker-host.js';
import { tenantNodes } from '../../src/swarm/swarm-stack.js';
import { TenantctlError } from '../../src/common/errors.js';

/** A manager at 10.0.0.1 with nodes n1 (itself), n2 and n3; acme pinned to n3, globex to n2; a service without the tenant label. */
function fakeManager(name: string, endpoint: string, { down = false } = {}): DockerHost {
  const manager = new DockerHost(name, parseDockerEndpoint(endpoint), { kind: 'swarm' });
  manager.docker = async (args: string[]) => {
    if (down) throw new TenantctlError('docker', 'the Docker engine is not reachable: connection refused');
    const call = args.slice(0, 2).join(' ');
    if (call === 'service ls') return 's1\ns2\ns3\ns4\n';
    if (call === 'service inspect') {
      return [
        'acme ["node.hostname == n3"]',
        'acme ["node.hostname == n3"]',
        'globex ["node.hostname == n2"]',
        ' ["node.hostname == n1"]',
        '',
      ].join('\n');
    }
    if (call === 'node ls') return 'id1\nid2\nid3\n';
    if (call === 'node inspect') return 'id1 n1 10.0.0.1\nid2 n2 10.0.0.2\nid3 n3 10.0.0.3\n';
    throw new Error(`unexpected docker ${args.join(' ')}`);
  };
  return manager;
}

describe('tenantNodes', () => {
  it('maps each tenant (its services\' tenantctl.tenant label) to the node its services are pinned to', async () => {
    const nodes = await tenantNodes(fakeManager('swarm1', 'tcp://10.0.0.1:2375'));
    expect(Object.fromEntries([...nodes].map(([tenant, node]) => [tenant, node.address]))).toEqual({ acme: '10.0.0.3', globex: '10.0.0.2' });
  });
});

describe('the address a swarm tenant is reached at', () => {
  const manager = fakeManager('swarm1', 'tcp://10.0.0.1:2375');
  const n3 = { id: 'id3', hostname: 'n3', address: '10.0.0.3' };

  it('is its node\'s, for the front door and for the app URL', () => {
    expect(publishedAddressOf(manager, n3, '127.0.0.1')).toBe('10.0.0.3');
    expect(appUrlFor({ bindAddress: '127.0.0.1' } as any, 3001, manager.sibling(n3.hostname, n3.address))).toBe('http://10.0.0.3:3001');
  });

  it('is the manager\'s only while the node is not known; a compose host\'s is its own', () => {
    expect(publishedAddressOf(manager, undefined, '127.0.0.1')).toBe('10.0.0.1');
    expect(publishedAddressOf(new DockerHost('web2', parseDockerEndpoint('tcp://10.0.0.9:2375')), n3, '127.0.0.1')).toBe('10.0.0.9');
  });
});

describe('the front door\'s routes to swarm tenants', () => {
  function fakeContext(managers: Record<string, DockerHost>) {
    const tenants: Record<string, string> = { home1: 'home', acme: 'swarm1', globex: 'swarm1', fresh: 'swarm1', other: 'swarm2', plain: 'web2' };
    const endpoints: Record<string, { endpoint: string; kind: string }> = {
      swarm1: { endpoint: 'tcp://10.0.0.1:2375', kind: 'swarm' },
      swarm2: { endpoint: 'tcp://10.0.1.1:2375', kind: 'swarm' },
      web2: { endpoint: 'tcp://10.0.0.9:2375', kind: 'compose' },
    };
    const query = async (sql: string, params: unknown[] = []) => {
      if (sql.includes('LEFT JOIN admin_customer_domains')) {
        return { rows: Object.entries(tenants).map(([id, host]) => ({ id, plan: 'standard', status: 'active', app_port: 3001, host, template: 'crm', domains: [] })) };
      }
      if (sql.includes('FROM admin_hosts WHERE name')) {
        const name = params[0] as string;
        const host = endpoints[name];
        return { rows: host ? [{ name, docker_endpoint: host.endpoint, kind: host.kind, state: 'active', created_at: new Date(), updated_at: new Date() }] : [] };
      }
      throw new Error(`unexpected query ${sql}`);
    };
    const db = { pool: { query }, unreachable: (e: unknown) => { throw e; } };
    const home = new DockerHost('home', parseDockerEndpoint(undefined));
    return {
      ctx: {
        config: { stateDir: '/tmp', bindAddress: '127.0.0.1' },
        dockerHost: home,
        homeHost: home,
        signal: new AbortController().signal,
        adminDb: async () => db,
        hostFor: (spec: HostSpec) => managers[spec.name] ?? new DockerHost(spec.name, parseDockerEndpoint(spec.endpoint), { kind: spec.kind }),
      } as unknown as Context,
      db: db as any,
    };
  }

  it('dial the node each tenant is pinned to; a tenant the manager does not know yet, and a manager that does not answer, the manager', async () => {
    const { ctx, db } = fakeContext({ swarm1: fakeManager('swarm1', 'tcp://10.0.0.1:2375'), swarm2: fakeManager('swarm2', 'tcp://10.0.1.1:2375', { down: true }) });
    const routes = Object.fromEntries((await servedRoutes(ctx, db)).map((r) => [r.id, r.publishedAddress ?? 'container']));
    expect(routes).toEqual({ home1: 'container', acme: '10.0.0.3', globex: '10.0.0.2', fresh: '10.0.0.1', other: '10.0.1.1', plain: '10.0.0.9' });
  });
});
