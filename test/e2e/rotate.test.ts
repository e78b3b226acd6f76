// Secret rotation on real Docker: every secret replaced where it lives (the running PostgreSQL's
// roles, Redis, the tenant's files, the sealed copy), the services that read them recreated, the
// tenant ready with the new values and the old ones refused; --only one secret; a failure after the
// new values were applied puts the old ones back, and they work. Audit rows never hold a value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { containerOf, createHarness, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';

let h: Harness;
let ports: { app: number; db: number; redis: number };

beforeAll(async () => {
  h = await createHarness('rotate', {
    TENANTCTL_HEALTH_DEADLINE: '60',
    TENANTCTL_SUBNET_POOL: `10.${200 + Math.floor(Math.random() * 50)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4850-4899', TENANTCTL_DB_PORTS: '5850-5899', TENANTCTL_REDIS_PORTS: '6850-6899',
  });
});

afterAll(async () => {
  await h?.cleanup();
});

async function secrets(): Promise<Record<string, string>> {
  const r = await h.cli(['secrets', 'r1', '--json']);
  expect(r.exitCode, r.why).toBe(0);
  return r.json().secrets;
}

async function pgLogin(user: string, password: string): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port: ports.db, user, password, database: 'tenant', connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function redisLogin(password: string): Promise<boolean> {
  const redis = new Redis({ host: '127.0.0.1', port: ports.redis, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function works(s: Record<string, string>): Promise<Record<string, boolean>> {
  return {
    owner: await pgLogin('tenant_owner', s.DB_PASSWORD!),
    app: await pgLogin('tenant_app', s.APP_DB_PASSWORD!),
    redis: await redisLogin(s.REDIS_PASSWORD!),
  };
}

/** Each service user's copies (what the non-root services mount) hold `values`, owned by that user, 0400. */
function expectCopies(values: Record<string, string>): void {
  const users = { 'user-70001-70001': ['DB_PASSWORD', 'APP_DB_PASSWORD'], 'user-70002-70002': ['REDIS_PASSWORD'], 'user-70003-70003': ['APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'] };
  for (const [dir, names] of Object.entries(users)) {
    const uid = Number(dir.split('-')[1]);
    for (const name of names) {
      const file = path.join(h.customersDir, 'r1', 'secrets', dir, name);
      expect(readFileSync(file, 'utf8'), file).toBe(values[name]);
      const info = statSync(file);
      expect([info.uid, info.mode & 0o777], file).toEqual([uid, 0o400]);
    }
  }
}

const allWork = { owner: true, app: true, redis: true };
const noneWork = { owner: false, app: false, redis: false };

describe('rotate-secrets', () => {
  it('provisions a tenant with data', async () => {
    const r = await h.cli(['provision', 'r1', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    ports = r.json().ports;
    const db = await containerOf(`${h.prefix}-r1`, 'db');
    await execa('docker', ['exec', db, 'psql', '-X', '-q', '-U', 'tenant_owner', '-d', 'tenant', '-c', "INSERT INTO crm.organizations (name, slug) VALUES ('Kept', 'kept')"]);
  }, 300_000);

  it('rotates every secret: new ones work, old ones are refused, data and readiness kept, no value in the audit log', async () => {
    const before = await secrets();
    const appBefore = await containerOf(`${h.prefix}-r1`, 'app');
    const dbBefore = await containerOf(`${h.prefix}-r1`, 'db');
    const r = await h.cli(['rotate-secrets', 'r1', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ rotated: ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'], recreated: ['redis', 'app', 'worker'] });
    const after = await secrets();
    for (const name of Object.keys(before)) expect(after[name], name).not.toBe(before[name]);
    expect(await works(after)).toEqual(allWork);
    expect(await works(before)).toEqual(noneWork);
    expect(await containerOf(`${h.prefix}-r1`, 'app')).not.toBe(appBefore);
    expect(await containerOf(`${h.prefix}-r1`, 'db')).toBe(dbBefore); // the database's passwords change in the server
    const db = await containerOf(`${h.prefix}-r1`, 'db');
    // The database was not recreated: its own copies (owned by postgres) were rewritten in place,
    // so the running container already reads the new values.
    for (const name of ['DB_PASSWORD', 'APP_DB_PASSWORD']) {
      expect((await execa('docker', ['exec', db, 'cat', `/run/secrets/${name}`])).stdout, name).toBe(after[name]);
    }
    expectCopies(after);
    expect((await execa('docker', ['exec', db, 'psql', '-X', '-A', '-t', '-U', 'tenant_owner', '-d', 'tenant', '-c', "SELECT name FROM crm.organizations WHERE slug = 'kept'"])).stdout.trim()).toBe('Kept');
    const status = await h.cli(['status', 'r1', '--json']);
    expect(status.exitCode, status.why).toBe(0);

    const audit = JSON.stringify(await h.adminQuery("SELECT action, old_values, new_values FROM admin_audit_logs WHERE customer_id = 'r1'"));
    expect(audit).toContain('secrets.rotated');
    for (const value of [...Object.values(before), ...Object.values(after)]) expect(audit.includes(value)).toBe(false);
  }, 300_000);

  it('--only redis changes the Redis password alone', async () => {
    const before = await secrets();
    const r = await h.cli(['rotate-secrets', 'r1', '--only', 'redis', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    const after = await secrets();
    expect(after.REDIS_PASSWORD).not.toBe(before.REDIS_PASSWORD);
    expect({ ...after, REDIS_PASSWORD: '' }).toEqual({ ...before, REDIS_PASSWORD: '' });
    expect(await works(after)).toEqual(allWork);
    expectCopies(after);
    const bad = await h.cli(['rotate-secrets', 'r1', '--only', 'ldap', '--json']);
    expect(bad.exitCode, bad.why).toBe(2);
  }, 300_000);

  it('puts the old secrets back when the rotation fails after applying the new ones, and they work', async () => {
    const before = await secrets();
    // Paused after the new passwords are in PostgreSQL and Redis and the services were recreated:
    // the app's container is then stopped, so readiness with the new secrets fails.
    // A short deadline: the missing app container is waited for until then.
    const paused = await startPausedAt(h, ['rotate-secrets', 'r1', '--json'], 'rotate:recreated', { TENANTCTL_HEALTH_DEADLINE: '20' });
    await execa('docker', ['rm', '-f', await containerOf(`${h.prefix}-r1`, 'app')]);
    paused.resume();
    const result = await paused.child;
    expect(result.exitCode, String(result.stdout)).not.toBe(0);
    expect(JSON.parse(String(result.stdout)).error.details.join('\n')).toMatch(/old secrets were put back everywhere and proven to work/);
    expect(await secrets()).toEqual(before);
    expect(await works(before)).toEqual(allWork);
    expectCopies(before);
    const status = await h.cli(['status', 'r1', '--json']);
    expect(status.exitCode, status.why).toBe(0);
  }, 300_000);
});
