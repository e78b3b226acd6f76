import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { renderTemplate, describeServices, TemplateError } from '../../src/templates/render-compose.js';
import { defaultTemplatePath } from '../../src/common/paths.js';

const template = readFileSync(defaultTemplatePath, 'utf8');

const baseVariables = {
  tenant_id: 'acme',
  tenant_name: 'ACME Corp',
  plan: 'standard',
  image_app: 'tenantctl/app:latest',
  image_postgres: 'tenantctl/postgres:15',
  image_redis: 'tenantctl/redis:7',
  bind_address: '127.0.0.1',
  'port.app': '3001',
  'port.db': '5434',
  'port.redis': '6380',
  subnet: '10.123.0.0/28',
  app_memory: '512m',
  worker_memory: '256m',
  db_memory: '1g',
  redis_memory: '256m',
  redis_maxmemory: '192mb',
  app_cpus: '1.0',
  db_cpus: '1.0',
  health_interval: '1s',
  pids_limit: '512',
};

const renderTree = (variables: Record<string, string>) =>
  parse(renderTemplate(template, variables, { omit: ['x-tenantctl'] }), { merge: true, maxAliasCount: -1 }) as any;

describe('renderTemplate with the shipped template', () => {
  it('fills ports, subnet, images and labels, and hands secrets over as files, never as values', () => {
    const tree = renderTree(baseVariables);
    expect(Object.keys(tree.services).sort()).toEqual(['app', 'db', 'redis', 'worker']);
    expect(tree.services.app.ports).toEqual(['127.0.0.1:3001:3000']);
    expect(tree.services.db.ports).toEqual(['127.0.0.1:5434:5432']);
    expect(tree.services.redis.ports).toEqual(['127.0.0.1:6380:6379']);
    expect(tree.networks.tenant.ipam.config[0].subnet).toBe('10.123.0.0/28');
    expect(tree.services.worker.labels['tenantctl.tenant']).toBe('acme');
    expect(tree.volumes['db-data'].labels['tenantctl.tenant']).toBe('acme');
    expect(tree.services.db.environment.POSTGRES_PASSWORD_FILE).toBe('/run/secrets/DB_PASSWORD');
    expect(tree.services.db.secrets).toEqual(['DB_PASSWORD', 'APP_DB_PASSWORD']);
    expect(tree.services.worker.environment.PGPASSWORD_FILE).toBe('/run/secrets/APP_DB_PASSWORD');
    expect(tree.secrets.JWT_SECRET).toEqual({ file: './secrets/JWT_SECRET' });
    for (const service of Object.values<any>(tree.services)) {
      expect(Object.keys(service.environment).filter((name) => /PASSWORD$|SECRET$/.test(name))).toEqual([]);
    }
    expect(tree.services.worker.environment.MODE).toBe('worker');
    expect(tree.services.worker.environment.TENANT_NAME).toBe('ACME Corp');
    expect(tree.services.redis.command.join(' ')).toContain('--maxmemory 192mb --maxmemory-policy allkeys-lru');
  });

  it('hardens every service, with the plan\'s pids limit as a YAML integer (compose v1 refuses a string)', () => {
    const tree = renderTree(baseVariables);
    for (const service of Object.values<any>(tree.services)) {
      expect(service).toMatchObject({ cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'], read_only: true, pids_limit: 512 });
      // Non-root from the first process: no capability back, a numeric user that is not root.
      expect(service.cap_add).toBeUndefined();
      expect(service.user).toMatch(/^[1-9]\d*:\d+$/);
    }
    expect(tree.services.db.user).toBe('70001:70001');
    expect(tree.services.redis.user).toBe('70002:70002');
    expect(tree.services.app.user).toBe('70003:70003');
    // What each writes at run time is a tmpfs its uid owns.
    expect(tree.services.db.tmpfs).toContain('/run/postgresql:uid=70001,gid=70001,mode=0775,size=1m');
    expect(tree.services.redis.tmpfs).toContain('/run/tenantctl:uid=70002,gid=70002,mode=0700,size=64k');
  });

  it('reports which services have health checks', () => {
    const services = describeServices(renderTemplate(template, baseVariables, { omit: ['x-tenantctl'] }));
    expect(services.every((s) => s.hasHealthcheck)).toBe(true);
    expect(services.map((s) => s.name).sort()).toEqual(['app', 'db', 'redis', 'worker']);
  });

  it.each([
    ['quotes', `ACME "Corp" 'Ltd'`],
    ['a newline', 'ACME\nservices: {}'],
    ['a colon and space', 'key: value'],
    ['a comment sign', 'ACME # not a comment'],
    ['compose interpolation', '${DB_PASSWORD} and $HOME'],
    ['a flow mapping', '{ evil: true }'],
    ['a document marker', '---\n...'],
    ['yaml anchors', '&a *a'],
  ])('a tenant name with %s stays one value and cannot change the document', (_label, name) => {
    const tree = renderTree({ ...baseVariables, tenant_name: name });
    // Compose turns "$$" back into "$"; nothing in the name is interpolated or parsed as YAML.
    expect(tree.services.app.environment.TENANT_NAME).toBe(name.replaceAll('$', () => '$$'));
    expect(Object.keys(tree)).toEqual(['x-logging', 'x-labels', 'x-hardening', 'services', 'networks', 'volumes', 'secrets']);
    expect(Object.keys(tree.services).sort()).toEqual(['app', 'db', 'redis', 'worker']);
    expect(tree.services.app.environment.MODE).toBe('web');
  });
});

describe('renderTemplate rules', () => {
  it('substitutes variables in mapping keys', () => {
    const out = parse(renderTemplate('services:\n  app:\n    image: x\nnetworks:\n  "net-{{tenant_id}}": {}\n', { tenant_id: 'acme' }));
    expect(Object.keys(out.networks)).toEqual(['net-acme']);
  });

  it('refuses a key that would render to something other than a plain name', () => {
    expect(() => renderTemplate('services:\n  app: { image: x }\n"{{k}}": 1\n', { k: 'a: b' })).toThrow(TemplateError);
  });

  it('refuses unknown placeholders and templates without services or images', () => {
    expect(() => renderTemplate('services:\n  app: { image: "{{nope}}" }\n', {})).toThrow(/\{\{nope\}\}/);
    expect(() => renderTemplate('volumes: {}\n', {})).toThrow(/no services/);
    expect(() => renderTemplate('services:\n  app: { ports: [] }\n', {})).toThrow(/app has no image/);
    expect(() => renderTemplate('services: [\n', {})).toThrow(/not valid YAML/);
  });
});
