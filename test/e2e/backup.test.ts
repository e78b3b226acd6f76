// Backups and restores on real Docker: a tenant with rows and Redis keys is backed up while it
// runs, deprovisioned, restored (provisioned again, then restored) and compared row by row and key
// by key; restored again as a new tenant and compared; changed and restored in place; and a
// truncated backup is refused with nothing changed. Also: provision records what the tenant runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, truncateSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { containerOf, createHarness, dockerObjectsWithPrefix, type Harness } from './harness.js';
import { templateChecksum } from '../../src/templates/checksum.js';

let h: Harness;
const root = path.resolve(import.meta.dirname, '..', '..');

beforeAll(async () => {
  // A subnet pool and port ranges of its own: other test runs on the same engine take networks and ports at the same time.
  h = await createHarness('backup', { TENANTCTL_HEALTH_DEADLINE: '120', TENANTCTL_SUBNET_POOL: `10.${200 + Math.floor(Math.random() * 50)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4750-4799', TENANTCTL_DB_PORTS: '5750-5799', TENANTCTL_REDIS_PORTS: '6750-6799',
  });
});

afterAll(async () => {
  await h?.cleanup();
});

const project = (id: string) => `${h.prefix}-${id}`;

async function psql(id: string, sql: string): Promise<string> {
  const db = await containerOf(project(id), 'db');
  const r = await execa('docker', ['exec', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', 'tenant_owner', '-d', 'tenant', '-c', sql], { timeout: 120_000, reject: false });
  if (r.exitCode !== 0) throw new Error(`psql on ${id} failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function redisPassword(id: string): Promise<string> {
  const r = await h.cli(['secrets', id, '--json']);
  expect(r.exitCode, r.why).toBe(0);
  return r.json().secrets.REDIS_PASSWORD;
}

async function redis(id: string, args: string[], input?: string): Promise<string> {
  const c = await containerOf(project(id), 'redis');
  const r = await execa('docker', ['exec', '-i', '-e', 'REDISCLI_AUTH', c, 'redis-cli', '--no-auth-warning', ...args], {
    env: { REDISCLI_AUTH: await redisPassword(id) }, timeout: 60_000, reject: false, input,
  });
  if (r.exitCode !== 0) throw new Error(`redis-cli on ${id} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Every row of every table of the tenant's schemas, as a count and a digest per table. */
async function tableDigests(id: string): Promise<Record<string, string>> {
  const tables = (await psql(id, "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema IN ('crm', 'public', 'app') AND table_type = 'BASE TABLE' ORDER BY 1")).split('\n').filter(Boolean);
  const out: Record<string, string> = {};
  for (const table of tables) {
    out[table] = await psql(id, `SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-') FROM ${table} t`);
  }
  return out;
}

// Every key but the worker's heartbeat (it changes by itself), with its type, value and whether it expires.
const digestScript = `
local keys = redis.call('KEYS', '*')
table.sort(keys)
local out = {}
for _, k in ipairs(keys) do
  if k ~= 'tenantctl:worker:heartbeat' then
    local t = redis.call('TYPE', k).ok
    local v
    if t == 'string' then v = redis.call('GET', k)
    elseif t == 'list' then v = table.concat(redis.call('LRANGE', k, 0, -1), '\\1')
    elseif t == 'set' then local m = redis.call('SMEMBERS', k); table.sort(m); v = table.concat(m, '\\1')
    elseif t == 'zset' then v = table.concat(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES'), '\\1')
    elseif t == 'hash' then
      local h = redis.call('HGETALL', k); local pairs_ = {}
      for i = 1, #h, 2 do pairs_[#pairs_ + 1] = h[i] .. '=' .. h[i + 1] end
      table.sort(pairs_); v = table.concat(pairs_, '\\1')
    else v = '?' end
    local ttl = redis.call('TTL', k)
    out[#out + 1] = k .. '\\2' .. t .. '\\2' .. v .. '\\2' .. (ttl > 0 and 'expires' or tostring(ttl))
  end
end
return {#out, redis.sha1hex(table.concat(out, '\\3'))}`;

async function redisDigest(id: string): Promise<string> {
  return redis(id, ['EVAL', digestScript, '0']);
}

async function snapshot(id: string) {
  return { tables: await tableDigests(id), redis: await redisDigest(id) };
}

let backupId = '';
let backupDir = '';
let original: Awaited<ReturnType<typeof snapshot>>;

describe('backup and restore', () => {
  it('provisions a tenant and records what it runs', async () => {
    const r = await h.cli(['provision', 'bk1', '--name', 'Backup Co', '--plan', 'starter', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    const [row] = await h.adminQuery('SELECT * FROM admin_tenant_deployments WHERE customer_id = $1 ORDER BY id DESC', ['bk1']);
    expect(row.reason).toBe('provision');
    // The template by name, and the checksum of its folder (compose file, initdb/, migrations/, README).
    expect(row.template_name).toBe('crm');
    expect(row.template_checksum).toBe(await templateChecksum(path.join(root, 'templates', 'crm')));
    expect(row.plan).toBe('starter');
    expect(row.compose_file).toBe(readFileSync(path.join(h.customersDir, 'bk1', 'docker-compose.yml'), 'utf8'));
    expect(Object.keys(row.images).sort()).toEqual(['app', 'db', 'redis', 'worker']);
    for (const image of Object.values(row.images) as Array<{ tag: string; id: string }>) {
      expect(image.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(image.tag).toMatch(/^tenantctl\//);
    }
  }, 300_000);

  it('backs up a running tenant with rows and Redis keys', async () => {
    await psql('bk1', `
      INSERT INTO crm.organizations (id, name, slug) VALUES ('11111111-1111-1111-1111-111111111111', 'Org ''A'' ; "quoted"', 'org-a');
      INSERT INTO crm.contacts (organization_id, first_name, last_name, email, notes)
        SELECT '11111111-1111-1111-1111-111111111111', 'First' || g, E'Last\\t' || g, 'c' || g || '@example.com', repeat('note ü€ ', g % 50)
        FROM generate_series(1, 2000) g;
      CREATE TABLE public.blobs (id int PRIMARY KEY, data bytea NOT NULL);
      INSERT INTO public.blobs SELECT g, decode(md5(g::text) || md5((g * 7)::text), 'hex') FROM generate_series(1, 500) g;`);
    await redis('bk1', ['SET', 'greeting', 'hello "world"\nline 2']);
    await redis('bk1', ['RPUSH', 'queue', 'a', 'b', 'c']);
    await redis('bk1', ['HSET', 'user:1', 'name', 'Ann', 'plan', 'pro']);
    await redis('bk1', ['SADD', 'tags', 'x', 'y', 'z']);
    await redis('bk1', ['ZADD', 'board', '1', 'one', '2.5', 'two']);
    await redis('bk1', ['SET', 'session', 'abc', 'EX', '86400']);
    await redis('bk1', [], Array.from({ length: 300 }, (_, i) => `SET bulk:${i} value-${i}`).join('\n'));
    const modules = await h.cli(['modules', 'enable', 'bk1', 'ai_assistant']);
    expect(modules.exitCode, modules.why).toBe(0);
    original = await snapshot('bk1');
    expect(original.tables['crm.contacts']).toMatch(/^2000 /);
    expect(original.tables['public.blobs']).toMatch(/^500 /);
    expect(original.redis.split('\n')[0]).toBe('306');

    const r = await h.cli(['backup', 'bk1', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    const result = r.json();
    backupId = result.id;
    backupDir = result.directory;
    expect(backupDir).toBe(path.join(h.dir, 'state', 'backups', 'bk1', backupId));
    expect(Object.keys(result.files).sort()).toEqual(['db.dump', 'redis.rdb', 'tenant.json']);
    expect(statSync(path.join(backupDir, 'db.dump')).size).toBe(result.files['db.dump'].bytes);
    // No secret in the backup.
    const secrets = (await h.cli(['secrets', 'bk1', '--json'])).json().secrets as Record<string, string>;
    for (const name of ['tenant.json', 'manifest.json']) {
      const text = readFileSync(path.join(backupDir, name), 'utf8');
      for (const value of Object.values(secrets)) expect(text.includes(value), `${name} holds a secret`).toBe(false);
    }
    const [row] = await h.adminQuery('SELECT state, size_bytes, manifest_sha256 FROM admin_backups WHERE id = $1', [backupId]);
    expect(row.state).toBe('succeeded');
    expect(row.manifest_sha256).toBe(createHash('sha256').update(readFileSync(path.join(backupDir, 'manifest.json'))).digest('hex'));

    const list = await h.cli(['backups', 'bk1', '--json']);
    expect(list.exitCode, list.why).toBe(0);
    expect(list.json().backups.map((b: any) => [b.id, b.state])).toEqual([[backupId, 'succeeded']]);
  }, 300_000);

  it('restores in place: changes after the backup are gone', async () => {
    await psql('bk1', "DELETE FROM crm.contacts WHERE first_name = 'First7'; INSERT INTO public.blobs VALUES (100000, '\\x00')");
    await redis('bk1', ['DEL', 'queue']);
    await redis('bk1', ['SET', 'greeting', 'changed']);
    expect((await h.cli(['modules', 'disable', 'bk1', 'ai_assistant'])).exitCode).toBe(0);
    expect(await snapshot('bk1')).not.toEqual(original);

    // Over live data only when confirmed (no terminal here): refused first, nothing changed.
    const unconfirmed = await h.cli(['restore', 'bk1', '--from', backupId, '--json']);
    expect(unconfirmed.exitCode, unconfirmed.why).toBe(4);
    const r = await h.cli(['restore', 'bk1', '--from', backupId, '--yes', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ outcome: 'restored', mode: 'in-place' });
    expect(r.json().modulesChanged).toEqual(['ai_assistant on']);
    expect(await snapshot('bk1')).toEqual(original);
    // status exits 0 only for an active tenant whose containers all run, with nothing in flight.
    const status = await h.cli(['status', 'bk1', '--json']);
    expect(status.exitCode, status.why).toBe(0);
    expect(status.json()).toMatchObject({ live: 'running', healthy: true, operation: null });
  }, 300_000);

  it('refuses a truncated backup with nothing changed', async () => {
    const copy = path.join(h.dir, 'truncated-copy');
    cpSync(backupDir, copy, { recursive: true });
    truncateSync(path.join(copy, 'db.dump'), statSync(path.join(copy, 'db.dump')).size - 100);
    const logBefore = await h.adminQuery('SELECT count(*)::int AS n FROM admin_audit_logs');

    const inPlace = await h.cli(['restore', 'bk1', '--from', copy, '--json']);
    expect(inPlace.exitCode, inPlace.why).toBe(2);
    expect(inPlace.json().error.message).toMatch(/db\.dump is \d+ bytes, the manifest says \d+/);
    const asNew = await h.cli(['restore', 'bk1', '--from', copy, '--as', 'bk3', '--json']);
    expect(asNew.exitCode, asNew.why).toBe(2);

    expect(await h.adminQuery('SELECT id FROM admin_customers WHERE id = $1', ['bk3'])).toEqual([]);
    expect((await dockerObjectsWithPrefix(project('bk3'))).containers).toEqual([]);
    expect(await h.adminQuery('SELECT count(*)::int AS n FROM admin_audit_logs')).toEqual(logBefore);
    expect(await snapshot('bk1')).toEqual(original);
  }, 300_000);

  it('restores a deprovisioned tenant (provisioned again, then restored): every row and key', async () => {
    const gone = await h.cli(['deprovision', 'bk1', '--yes', '--json']);
    expect(gone.exitCode, gone.why).toBe(0);
    expect((await dockerObjectsWithPrefix(project('bk1'))).containers).toEqual([]);

    const r = await h.cli(['restore', 'bk1', '--from', backupId, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json().outcome).toBe('provisioned-and-restored');
    expect(await snapshot('bk1')).toEqual(original);
    const [tenant] = await h.adminQuery('SELECT name, plan, status FROM admin_customers WHERE id = $1', ['bk1']);
    expect(tenant).toEqual({ name: 'Backup Co', plan: 'starter', status: 'active' });
    const modules = await h.adminQuery('SELECT enabled FROM admin_customer_modules WHERE customer_id = $1 AND module_key = $2', ['bk1', 'ai_assistant']);
    expect(modules).toEqual([{ enabled: true }]);
    // The app works on the restored data with the new passwords.
    const status = await h.cli(['status', 'bk1', '--json']);
    expect(status.exitCode, status.why).toBe(0);
  }, 400_000);

  it('restores as a new tenant: same rows and keys, its own passwords', async () => {
    const r = await h.cli(['restore', 'bk1', '--from', backupId, '--as', 'bk2', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json().id).toBe('bk2');
    expect(await snapshot('bk2')).toEqual(original);
    const a = (await h.cli(['secrets', 'bk1', '--json'])).json().secrets;
    const b = (await h.cli(['secrets', 'bk2', '--json'])).json().secrets;
    expect(a.DB_PASSWORD).not.toBe(b.DB_PASSWORD);
    // --as an existing tenant is refused.
    const again = await h.cli(['restore', 'bk1', '--from', backupId, '--as', 'bk2', '--json']);
    expect(again.exitCode, again.why).toBe(5);
  }, 400_000);
});
