import { describe, expect, it } from 'vitest';
import { loadTemplate } from '../../src/templates/load.js';
import { renderTemplateWith } from '../../src/templates/validate.js';
import { templateValues, sampleTenant, type HostValues } from '../../src/templates/values.js';
import { tenantReadiness } from '../../src/tenants/readiness.js';
import { servicesOf } from '../../src/tenants/day2-target.js';
import net from 'node:net';
import { serviceContainerIn } from '../../src/stack/tenant-ports.js';

// What each declared readiness entry becomes (no Docker: only the mapping from block to probes).

const host: HostValues = { bindAddress: '127.0.0.1', healthIntervalSeconds: 30, images: { app: 'a', postgres: 'p', redis: 'r' }, variables: {} };

async function rendered(name: string) {
  const template = await loadTemplate(name, {});
  const tenant = { ...sampleTenant(template), id: 'acme-co' };
  const values = templateValues(template, tenant, host);
  const secrets = Object.fromEntries(Object.keys(template.block.secrets).map((s) => [s, 'x'.repeat(32)]));
  return { template, tenant, values, secrets, text: renderTemplateWith(template, values) };
}

describe('tenantReadiness from a template block', () => {
  it('crm: PostgreSQL login as tenant_app, Redis PING, GET /api/ready, the worker heartbeat key', async () => {
    const { template, tenant, values, secrets, text } = await rendered('crm');
    const services = tenantReadiness(text, template.block, { address: '127.0.0.1', ports: tenant.ports, secrets, profiles: [], values });
    const what = Object.fromEntries(services.map((s) => [s.name, s.probe?.what]));
    expect(what).toEqual({
      db: 'PostgreSQL login as tenant_app',
      redis: 'Redis AUTH + PING',
      app: 'GET /api/ready',
      worker: 'tenantctl:worker:heartbeat in Redis',
    });
  });

  it('frontbase: a profile that is off is not expected; switched on, its postgres login is', async () => {
    const { template, tenant, values, secrets, text } = await rendered('frontbase');
    const off = tenantReadiness(text, template.block, { address: '127.0.0.1', ports: tenant.ports, secrets, profiles: [], values });
    expect(off.map((s) => s.name)).not.toContain('postgres');
    expect(off.find((s) => s.name === 'redis-http')?.probe?.what).toBe('Redis over HTTP: GET /PING');
    const on = tenantReadiness(text, template.block, { address: '127.0.0.1', ports: tenant.ports, secrets, profiles: ['postgres'], values });
    expect(on.find((s) => s.name === 'postgres')?.probe?.what).toBe('PostgreSQL login as frontbase');
    expect(servicesOf(text)).not.toContain('postgres');
    expect(servicesOf(text, ['postgres'])).toContain('postgres');
  });

  it('running: true is judged by the container alone, without waiting for a health check', () => {
    const text = 'services:\n  w:\n    image: x\n    healthcheck: { test: ["CMD", "true"] }\n';
    const [service] = tenantReadiness(text, { readiness: { w: { running: true } } }, { address: 'h', ports: {}, secrets: {}, profiles: [], values: {} });
    expect(service).toEqual({ name: 'w', hasHealthcheck: false });
  });

  it('a tcp check of a tunnelled port is judged inside the container, not by the relay\'s listener (which always accepts)', async () => {
    // A listener that accepts every connection, as the exec relay's local end does.
    const listener = net.createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as net.AddressInfo;
    try {
      const text = 'services:\n  q:\n    image: x\n';
      const block = { readiness: { q: { tcp: { port: 'q' } } } } as never;
      let inside = false;
      const endpoint = () => ({ host: '127.0.0.1', port, acceptsInside: async () => ({ ok: inside, why: 'nothing accepts on port 7000 in the container' }) });
      const [service] = tenantReadiness(text, block, { address: '127.0.0.1', ports: { q: 7000 }, secrets: {}, profiles: [], values: {}, endpoint });
      expect(await service!.probe!.attempt()).toMatchObject({ done: false });
      inside = true;
      expect(await service!.probe!.attempt()).toMatchObject({ done: true });
      // Without a tunnel the listener itself is dialled (a published port).
      const [direct] = tenantReadiness(text, block, { address: '127.0.0.1', ports: { q: port }, secrets: {}, profiles: [], values: {} });
      expect(await direct!.probe!.attempt()).toMatchObject({ done: true });
    } finally {
      listener.close();
    }
  });

  it('a relay goes to the service\'s own container, never to a one-off (compose run) one', () => {
    expect(serviceContainerIn('aaa True\nbbb False\n')).toBe('bbb');
    expect(serviceContainerIn('ccc \n')).toBe('ccc'); // a swarm task's container has no oneoff label
    expect(serviceContainerIn('aaa True\n')).toBeUndefined();
    expect(serviceContainerIn('')).toBeUndefined();
  });
});
