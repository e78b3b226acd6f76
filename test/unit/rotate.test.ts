import { describe, expect, it } from 'vitest';
import { parseOnly, rotationPlan } from '../../src/secrets/rotate.js';
import { parseBlock } from '../../src/templates/block-schema.js';

const crm = ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'];

describe('rotate-secrets --only', () => {
  it('defaults to every secret of the template and accepts names, or crm\'s short names, one or several', () => {
    expect(parseOnly(undefined, crm)).toEqual(crm);
    expect(parseOnly('redis', crm)).toEqual(['REDIS_PASSWORD']);
    expect(parseOnly('db, jwt,db', crm)).toEqual(['DB_PASSWORD', 'JWT_SECRET']);
    expect(parseOnly('REDIS_HTTP_TOKEN', ['SECRET_KEY', 'REDIS_HTTP_TOKEN'])).toEqual(['REDIS_HTTP_TOKEN']);
  });
  it('refuses anything else (exit 2), naming the template\'s secrets', () => {
    for (const bad of ['', 'ldap', 'db,ldap', 'DB']) expect(() => parseOnly(bad, crm)).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(() => parseOnly('db', ['SECRET_KEY'])).toThrow(/SECRET_KEY/);
  });
});

describe('what a rotation recreates and applies, from the template', () => {
  const block = parseBlock({
    version: 1, description: 'd', readiness: {},
    secrets: {
      DB_PASSWORD: { length: 32, applies: { postgresRole: { service: 'db', role: 'owner' } } },
      APP_DB_PASSWORD: { length: 32, applies: { postgresRole: { service: 'db', role: 'app' } } },
      REDIS_PASSWORD: { length: 32, applies: { redisPassword: { service: 'redis' } } },
      TOKEN: { length: 32 },
    },
    state: { db: { postgres: { service: 'db', database: 'tenant', user: 'owner' } }, redis: { redis: { service: 'redis', passwordSecret: 'REDIS_PASSWORD' } } },
  });
  if (!block.ok) throw new Error(block.problems.join('; '));
  const rendered = `services:
  db: { image: pg, secrets: [DB_PASSWORD, APP_DB_PASSWORD] }
  redis: { image: r, secrets: [REDIS_PASSWORD] }
  app: { image: a, secrets: [APP_DB_PASSWORD, REDIS_PASSWORD, TOKEN] }
  proxy: { image: p, secrets: [{ source: TOKEN }] }
`;
  const running = ['db', 'redis', 'app', 'proxy'];
  it('recreates every service that mounts a changed secret, but not a PostgreSQL server for its roles', () => {
    expect(rotationPlan(block.block, rendered, running, ['DB_PASSWORD']).recreate).toEqual([]);
    expect(rotationPlan(block.block, rendered, running, ['APP_DB_PASSWORD']).recreate).toEqual(['app']);
    expect(rotationPlan(block.block, rendered, running, ['REDIS_PASSWORD']).recreate).toEqual(['redis', 'app']);
    expect(rotationPlan(block.block, rendered, running, ['TOKEN']).recreate).toEqual(['app', 'proxy']);
  });
  it('applies a value where a server holds it, when that server runs (a profile that is off has none)', () => {
    expect(rotationPlan(block.block, rendered, running, ['DB_PASSWORD', 'REDIS_PASSWORD', 'TOKEN']).appliers.map((a) => a.secret)).toEqual(['DB_PASSWORD', 'REDIS_PASSWORD']);
    expect(rotationPlan(block.block, rendered, ['redis', 'app'], ['DB_PASSWORD']).appliers).toEqual([]);
  });
  it('refuses (exit 2) a secret without an applier that a PostgreSQL server mounts: recreating it would not change the password it holds', () => {
    const withDbToken = rendered.replace('secrets: [DB_PASSWORD, APP_DB_PASSWORD]', 'secrets: [DB_PASSWORD, APP_DB_PASSWORD, TOKEN]');
    expect(() => rotationPlan(block.block, withDbToken, running, ['TOKEN'])).toThrow(/TOKEN cannot be rotated: db holds PostgreSQL state and reads it only at its first start/);
    expect(() => rotationPlan(block.block, withDbToken, running, ['TOKEN'])).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});
