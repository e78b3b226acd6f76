import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync, readFileSync, cpSync } from 'node:fs';
import path from 'node:path';
import { parseBlock } from '../../src/templates/block-schema.js';
import { listTemplates, loadTemplate, loadTemplateAt } from '../../src/templates/load.js';
import { templateProblems, renderTemplateWith, assertValidTemplate } from '../../src/templates/validate.js';
import { sampleTenant, templateValues, type HostValues } from '../../src/templates/values.js';
import { templateChecksum } from '../../src/templates/checksum.js';
import { shippedTemplatesDir } from '../../src/common/paths.js';
import { TenantctlError } from '../../src/common/errors.js';
import { tempDir } from './temp-dirs.js';

const host: HostValues = { bindAddress: '127.0.0.1', healthIntervalSeconds: 30, images: { app: 'tenantctl/app:latest', postgres: 'tenantctl/postgres:15', redis: 'tenantctl/redis:7' }, variables: {} };


/** A small valid template folder; `edit` changes its compose text before it is written. */
function templateDir(edit: (text: string) => string = (t) => t): string {
  const dir = tempDir('tct-template-');
  const text = `x-tenantctl:
  version: 1
  description: "web and cache"
  ports:
    web: { service: web, container: 80, range: { from: 8100, to: 8199 } }
    cache: { service: cache, container: 6379, range: { from: 8100, to: 8199 } }
  frontdoor: { port: web }
  secrets:
    CACHE_PASSWORD: { length: 24, alphabet: hex }
  readiness:
    web: { http: { port: web, path: /, status: 200 } }
    cache: { redis: { port: cache, passwordSecret: CACHE_PASSWORD } }
  profiles:
    extra: { description: "an extra service", services: [extra] }
  variables:
    web_image: { default: "tenantctl/nginx:bookworm", description: "the web server" }
services:
  web:
    image: "{{web_image}}"
    ports: ["{{bind_address}}:{{port.web}}:80"]
    labels: { tenantctl.tenant: "{{tenant_id}}" }
  cache:
    image: "{{image_redis}}"
    secrets: [CACHE_PASSWORD]
    ports: ["{{bind_address}}:{{port.cache}}:6379"]
  extra:
    image: "{{image_redis}}"
    profiles: [extra]
secrets:
  CACHE_PASSWORD: { file: ./secrets/CACHE_PASSWORD }
`;
  writeFileSync(path.join(dir, 'docker-compose.tenant.yml'), edit(text));
  return dir;
}

const problemsOf = async (dir: string) => {
  try {
    return templateProblems(await loadTemplateAt(dir, { source: 'file' }), host);
  } catch (error) {
    if (error instanceof TenantctlError) return error.details;
    throw error;
  }
};

describe('x-tenantctl block schema', () => {
  it('reports every problem as path: message', () => {
    const result = parseBlock({ version: 2, description: '', ports: { app: { service: 'app', container: 3000, range: { from: 3999, to: 3001 } } }, secrets: { lower: { length: 8 } }, readiness: { app: { ftp: {} } }, surprise: 1 });
    expect(result.ok).toBe(false);
    const problems = (result as { problems: string[] }).problems;
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^x-tenantctl\.version: /),
      expect.stringMatching(/^x-tenantctl\.description: /),
      expect.stringMatching(/^x-tenantctl\.ports\.app\.range: from must not be greater than to/),
      expect.stringMatching(/^x-tenantctl\.secrets\.lower: /),
      expect.stringMatching(/^x-tenantctl\.readiness\.app: must be exactly one of http, tcp/),
      expect.stringMatching(/^x-tenantctl: .*surprise/),
    ]));
  });

  it('a readiness entry is checked as the probe it names', () => {
    const result = parseBlock({ version: 1, description: 'x', readiness: { db: { postgres: { port: 'db', user: 'Bad Role', passwordSecret: 'P' } } } });
    expect((result as { problems: string[] }).problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^x-tenantctl\.readiness\.db\.postgres\.user: must be a PostgreSQL role name/),
      expect.stringMatching(/^x-tenantctl\.readiness\.db\.postgres\.database: /),
    ]));
  });

  it('migrations.superuserOwner is a boolean, absent unless the template says so', () => {
    const target = { service: 'db', port: 'db', user: 'owner', passwordSecret: 'DB_PASSWORD', database: 'tenant' };
    const plain = parseBlock({ version: 1, description: 'x', readiness: {}, migrations: target });
    expect(plain.ok && plain.block.migrations?.superuserOwner).toBeUndefined();
    const kept = parseBlock({ version: 1, description: 'x', readiness: {}, migrations: { ...target, superuserOwner: true } });
    expect(kept.ok && kept.block.migrations?.superuserOwner).toBe(true);
    expect((parseBlock({ version: 1, description: 'x', readiness: {}, migrations: { ...target, superuserOwner: 'yes' } }) as { problems: string[] }).problems)
      .toEqual([expect.stringMatching(/^x-tenantctl\.migrations\.superuserOwner: /)]);
  });

  it('a missing block is one problem naming it', () => {
    expect(parseBlock(undefined)).toEqual({ ok: false, problems: [expect.stringMatching(/^x-tenantctl: missing/)] });
  });
});

describe('shipped templates', () => {
  it('crm is listed, valid, and renders today\'s stack without the block', async () => {
    const names = (await listTemplates({})).map((t) => t.name);
    expect(names).toContain('crm');
    const crm = await loadTemplate('crm', {});
    expect(templateProblems(crm, host)).toEqual([]);
    expect(Object.keys(crm.block.ports)).toEqual(['app', 'db', 'redis']);
    expect(Object.keys(crm.block.secrets)).toEqual(['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET']);
    expect(crm.migrationsDir).toBe(path.join(shippedTemplatesDir, 'crm', 'migrations'));
    const rendered = renderTemplateWith(crm, templateValues(crm, { ...sampleTenant(crm), ports: { app: 3001, db: 5434, redis: 6380 } }, host));
    expect(rendered).not.toMatch(/^x-tenantctl:/m);
    expect(rendered).toContain('127.0.0.1:3001:3000');
    expect(rendered).toContain('127.0.0.1:5434:5432');
  });

  it('every shipped template validates', async () => {
    for (const entry of await listTemplates({})) {
      const template = await loadTemplate(entry.name, {});
      expect(templateProblems(template, host), entry.name).toEqual([]);
    }
  });

  it('an unknown name is exit 2 naming the known ones', async () => {
    await expect(loadTemplate('nope', {})).rejects.toThrow(/no template nope; known templates: .*crm/);
  });
});

describe('offline validation', () => {
  it('a good template has no problems and a stable checksum over its folder', async () => {
    const dir = templateDir();
    expect(await problemsOf(dir)).toEqual([]);
    const before = await templateChecksum(dir);
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    mkdirSync(path.join(dir, 'initdb'));
    writeFileSync(path.join(dir, 'initdb', 'x.sh'), 'true');
    expect(await templateChecksum(dir)).not.toBe(before);
  });

  it.each([
    ['an undefined placeholder', (t: string) => t.replace('{{web_image}}', '{{nowhere}}'), /uses \{\{nowhere\}\}/],
    ['a port of an unknown service', (t: string) => t.replace('web: { service: web,', 'web: { service: webb,'), /^x-tenantctl\.ports\.web\.service: service webb is not in/],
    ['a port its service does not publish', (t: string) => t.replace('"{{bind_address}}:{{port.web}}:80"', '"{{bind_address}}:{{port.web}}:81"'), /^x-tenantctl\.ports\.web: service web does not publish it/],
    ['a hard-coded host port', (t: string) => t.replace('ports: ["{{bind_address}}:{{port.web}}:80"]', 'ports: ["{{bind_address}}:{{port.web}}:80", "9999:80"]'), /^services\.web\.ports: publishes a host port/],
    ['readiness naming an undeclared secret', (t: string) => t.replace('passwordSecret: CACHE_PASSWORD', 'passwordSecret: NOPE'), /readiness\.cache\.redis\.passwordSecret: secret NOPE is not declared/],
    ['readiness naming an undeclared port', (t: string) => t.replace('http: { port: web,', 'http: { port: www,'), /readiness\.web\.http\.port: port www is not declared/],
    ['a service without readiness', (t: string) => t.replace('    web: { http: { port: web, path: /, status: 200 } }\n', ''), /^x-tenantctl\.readiness\.web: missing/],
    ['a profile whose service lacks profiles:', (t: string) => t.replace('    profiles: [extra]\n', '    profiles: [other]\n'), /profiles\.extra\.services\.0: service extra must carry/],
    ['an undeclared compose secret', (t: string) => t.replace('  CACHE_PASSWORD: { file: ./secrets/CACHE_PASSWORD }', '  CACHE_PASSWORD: { file: ./secrets/CACHE_PASSWORD }\n  OTHER: { file: ./secrets/OTHER }'), /^secrets\.OTHER: not declared/],
    ['a migrations target on an unknown service', (t: string) => t.replace('  profiles:\n', '  migrations: { service: db, port: web, user: app, passwordSecret: CACHE_PASSWORD, database: "t_{{tenant_id_underscored}}" }\n  profiles:\n'), /^x-tenantctl\.migrations\.service: service db is not in/],
    ['a variable with a built-in name', (t: string) => t.replace('    web_image: {', '    plan: { default: "x" }\n    web_image: {'), /^x-tenantctl\.variables\.plan: is a built-in/],
    ['a frontdoor port that is not declared', (t: string) => t.replace('frontdoor: { port: web }', 'frontdoor: { port: www }'), /^x-tenantctl\.frontdoor\.port: port www is not declared/],
    ['a public path outside /api/', (t: string) => t.replace('frontdoor: { port: web }', 'frontdoor: { port: web, publicPaths: [/admin] }'), /^x-tenantctl\.frontdoor\.publicPaths\.0: must be a path under \/api\//],
    ['a public path that could end an nginx directive', (t: string) => t.replace('frontdoor: { port: web }', 'frontdoor: { port: web, publicPaths: ["/api/x;deny"] }'), /^x-tenantctl\.frontdoor\.publicPaths\.0: must be a path under \/api\//],
    ['not YAML', (_t: string) => 'x-tenantctl: [\n', /not valid YAML/],
    ['a port published on every interface (no address)', (t: string) => t.replace('"{{bind_address}}:{{port.cache}}:6379"', '"{{port.cache}}:6379"'), /^services\.cache\.ports: publishes on every interface/],
    ['a port published on a fixed address, even the configured one', (t: string) => t.replace('"{{bind_address}}:{{port.cache}}:6379"', '"127.0.0.1:{{port.cache}}:6379"'), /^services\.cache\.ports: publishes on 127\.0\.0\.1/],
    ['a long-form port on 0.0.0.0', (t: string) => t.replace('"{{bind_address}}:{{port.cache}}:6379"', '{ host_ip: 0.0.0.0, published: "{{port.cache}}", target: 6379 }'), /^services\.cache\.ports: publishes on 0\.0\.0\.0/],
    ['network_mode: host', (t: string) => t.replace('    profiles: [extra]\n', '    profiles: [extra]\n    network_mode: host\n'), /^services\.extra\.network_mode: host/],
  ])('refuses %s', async (_what, edit, expected) => {
    const problems = await problemsOf(templateDir(edit));
    expect(problems.some((p) => expected.test(p)), problems.join('\n')).toBe(true);
  });

  /** The template with Redis data on a named volume and `state` (and, in `extra`, more block lines) declared. */
  const withState = (state: string, extra = '') => (t: string) => t
    .replace('  profiles:\n', `  state:\n${state}${extra}  profiles:\n`)
    .replace('    secrets: [CACHE_PASSWORD]\n', '    secrets: [CACHE_PASSWORD]\n    volumes: ["cache-data:/data"]\n')
    .replace('secrets:\n  CACHE_PASSWORD: { file', 'volumes:\n  cache-data: {}\nsecrets:\n  CACHE_PASSWORD: { file');

  it('state pieces and a secret\'s applier that fit the compose file are valid', async () => {
    const dir = templateDir(withState('    cache: { redis: { service: cache, passwordSecret: CACHE_PASSWORD, dir: /data } }\n    notes: { sqlite: { service: cache, path: /data/sub/notes.db } }\n'));
    writeFileSync(path.join(dir, 'docker-compose.tenant.yml'), readFileSync(path.join(dir, 'docker-compose.tenant.yml'), 'utf8').replace('CACHE_PASSWORD: { length: 24, alphabet: hex }', 'CACHE_PASSWORD: { length: 24, alphabet: hex, applies: { redisPassword: { service: cache } } }'));
    expect(await problemsOf(dir)).toEqual([]);
  });

  it.each([
    ['a SQLite file on no named volume', '    notes: { sqlite: { service: web, path: /srv/notes.db } }\n', /^x-tenantctl\.state\.notes\.sqlite\.path: \/srv\/notes\.db is on no named volume of service web/],
    ['a Redis dir its service does not mount', '    cache: { redis: { service: cache, passwordSecret: CACHE_PASSWORD, dir: /var/lib/redis } }\n', /^x-tenantctl\.state\.cache\.redis\.dir: service cache mounts no named volume at \/var\/lib\/redis/],
    ['a piece of an unknown service', '    db: { postgres: { service: db, database: t, user: owner } }\n', /^x-tenantctl\.state\.db\.postgres\.service: service db is not in/],
    ['two pieces over one volume (a volume piece is all of it)', '    cache: { redis: { service: cache, passwordSecret: CACHE_PASSWORD } }\n    files: { volume: { service: cache, path: /data } }\n', /^x-tenantctl\.state\.files: holds the same data as state\.cache \(volume cache-data\)/],
    ['two SQLite pieces naming one file', '    a: { sqlite: { service: cache, path: /data/x.db } }\n    b: { sqlite: { service: cache, path: /data/x.db } }\n', /^x-tenantctl\.state\.b: holds the same data as state\.a/],
  ])('refuses %s', async (_what, state, expected) => {
    const problems = await problemsOf(templateDir(withState(state)));
    expect(problems.some((p) => expected.test(p)), problems.join('\n')).toBe(true);
  });

  it('refuses an applier on a service without a piece of its kind', async () => {
    const dir = templateDir(withState('    files: { volume: { service: cache, path: /data } }\n'));
    writeFileSync(path.join(dir, 'docker-compose.tenant.yml'), readFileSync(path.join(dir, 'docker-compose.tenant.yml'), 'utf8').replace('CACHE_PASSWORD: { length: 24, alphabet: hex }', 'CACHE_PASSWORD: { length: 24, alphabet: hex, applies: { postgresRole: { service: cache, role: app } } }'));
    const problems = await problemsOf(dir);
    expect(problems.some((p) => /^x-tenantctl\.secrets\.CACHE_PASSWORD\.applies\.postgresRole\.service: service cache has no postgres piece/.test(p)), problems.join('\n')).toBe(true);
  });

  it('a migrations/ folder without a target is a problem', async () => {
    const dir = templateDir();
    mkdirSync(path.join(dir, 'migrations'));
    expect(await problemsOf(dir)).toEqual([expect.stringMatching(/^x-tenantctl\.migrations: missing/)]);
  });

  it('assertValidTemplate throws a usage error (exit 2) with every problem as a detail', async () => {
    const template = await loadTemplateAt(templateDir((t) => t.replace('{{web_image}}', '{{nowhere}}')), { source: 'file' });
    try {
      assertValidTemplate(template, host);
      expect.unreachable();
    } catch (error) {
      expect((error as TenantctlError).exitCode).toBe(2);
      expect((error as TenantctlError).details.length).toBeGreaterThan(0);
    }
  });

  it('variables take their default, or the config\'s value for that template', async () => {
    const template = await loadTemplateAt(templateDir(), { name: 'mine', source: 'operator' });
    const tenant = sampleTenant(template);
    expect(templateValues(template, tenant, host).web_image).toBe('tenantctl/nginx:bookworm');
    expect(templateValues(template, tenant, { ...host, variables: { mine: { web_image: 'x/y:1' } } }).web_image).toBe('x/y:1');
    expect(templateValues(template, { ...tenant, id: 'a-b-c' }, host).tenant_id_underscored).toBe('a_b_c');
  });

  it('an operator folder is found by name; a shipped name is shadowed, not replaced', async () => {
    const root = tempDir('tct-templates-');
    cpSync(templateDir(), path.join(root, 'mine'), { recursive: true });
    cpSync(templateDir(), path.join(root, 'crm'), { recursive: true });
    const entries = await listTemplates({ directory: root });
    expect(entries.find((e) => e.name === 'mine')).toMatchObject({ source: 'operator' });
    expect(entries.find((e) => e.name === 'crm' && e.source === 'operator')).toMatchObject({ shadowed: true });
    expect((await loadTemplate('crm', { directory: root })).source).toBe('shipped');
    expect((await loadTemplate('mine', { directory: root })).block.description).toBe('web and cache');
    void readFileSync;
  });
});
