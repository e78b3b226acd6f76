import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadTemplate } from '../../src/templates/load.js';
import { renderTemplateWith, templateProblems } from '../../src/templates/validate.js';
import { sampleTenant, templateValues, type HostValues } from '../../src/templates/values.js';

// The shipped frontbase template (templates/frontbase/): what tenantctl is told about the stack and
// what its compose file renders to. Offline; the images and probes are proven by
// test/e2e/frontbase.test.ts.

const host: HostValues = { bindAddress: '127.0.0.1', healthIntervalSeconds: 30, images: { app: 'tenantctl/app:latest', postgres: 'tenantctl/postgres:15', redis: 'tenantctl/redis:7' }, variables: {} };

async function rendered(overrides: Partial<HostValues> = {}, tenantId = 'acme-eu-1') {
  const template = await loadTemplate('frontbase', {});
  const values = templateValues(template, { ...sampleTenant(template), id: tenantId }, { ...host, ...overrides });
  return parse(renderTemplateWith(template, values)) as { services: Record<string, Record<string, unknown>>; volumes: Record<string, unknown> };
}

describe('frontbase template', () => {
  it('validates, with the seed\'s overlapping port ranges and the front door on the frontend', async () => {
    const template = await loadTemplate('frontbase', {});
    expect(templateProblems(template, host)).toEqual([]);
    expect(template.block.ports.backend!.range).toEqual({ from: 8000, to: 8999 });
    expect(template.block.ports.frontend!.range).toEqual({ from: 8080, to: 8999 });
    expect(template.block.ports.redis_http!.range).toEqual({ from: 8079, to: 8999 });
    expect(template.block.ports.edge!.range).toEqual({ from: 3002, to: 3999 });
    expect(template.block.frontdoor).toEqual({ port: 'frontend', publicPaths: ['/api/notes'] });
  });

  it('declares a probe for every service, postgres only as an optional profile', async () => {
    const template = await loadTemplate('frontbase', {});
    expect(Object.keys(template.block.readiness).sort()).toEqual(['backend', 'edge', 'frontend', 'postgres', 'redis', 'redis-http']);
    expect(template.block.readiness['redis-http']).toEqual({ redisHttp: { port: 'redis_http', tokenSecret: 'REDIS_HTTP_TOKEN' } });
    expect(template.block.profiles).toEqual({ postgres: expect.objectContaining({ services: ['postgres'] }) });
    const { services } = await rendered();
    expect(services.postgres!.profiles).toEqual(['postgres']);
    expect(Object.entries(services).filter(([, s]) => s.profiles === undefined).map(([name]) => name).sort())
      .toEqual(['backend', 'edge', 'frontend', 'redis', 'redis-http']);
  });

  it('names the PostgreSQL database frontbase_<id> with the id\'s dashes as underscores', async () => {
    const { services } = await rendered({}, 'acme-eu-1');
    expect((services.postgres!.environment as Record<string, string>).POSTGRES_DB).toBe('frontbase_acme_eu_1');
    const template = await loadTemplate('frontbase', {});
    expect(template.block.readiness.postgres).toEqual({ postgres: expect.objectContaining({ database: 'frontbase_{{tenant_id_underscored}}', user: 'frontbase' }) });
  });

  it('takes its images from variables that the config overrides (a real Frontbase build)', async () => {
    const stock = (await rendered()).services;
    expect(stock.backend!.image).toBe('tenantctl/frontbase-backend:latest');
    expect(stock['redis-http']!.image).toBe('tenantctl/webdis:latest');
    expect(stock.redis!.image).toBe('tenantctl/redis:7');
    const real = (await rendered({ variables: { frontbase: { image_backend: 'registry.example.com/frontbase/backend:2.4' } } })).services;
    expect(real.backend!.image).toBe('registry.example.com/frontbase/backend:2.4');
    expect(real.frontend!.image).toBe('tenantctl/frontbase-frontend:latest');
  });

  it('hands secrets as files only: no service environment holds a value, only *_FILE paths', async () => {
    const { services } = await rendered();
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries((service.environment ?? {}) as Record<string, string>)) {
        if (/PASSWORD|TOKEN|SECRET/.test(key)) expect(`${name}.${key}=${value}`).toMatch(/_FILE=\/run\/secrets\/[A-Z_]+$/);
      }
    }
    expect(services['redis-http']!.secrets).toEqual(['REDIS_PASSWORD', 'REDIS_HTTP_TOKEN']);
    expect(services.frontend!.secrets).toBeUndefined();
  });
});
