// Secrets at rest, against a real admin database: a tenant's passwords are stored sealed under the
// master key, `tenantctl secrets` shows them with the right key, and a wrong, malformed or missing
// key is refused with a clear error and no secret in the output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHarness, type Harness } from './harness.js';
import { AdminDb } from '../../src/admin-db/database.js';
import { openSecretBox } from '../../src/secrets/master-key.js';
import { storeTenantSecrets } from '../../src/secrets/sealed-store.js';
import { generateTenantSecrets, type TenantSecrets } from '../../src/secrets/generate.js';

let h: Harness;
let registry: AdminDb;
let stored: TenantSecrets;
const key = randomBytes(32).toString('hex');
const withKey = { env: { TENANTCTL_MASTER_KEY: key } };

const insertTenant = (id: string) =>
  h.adminQuery("INSERT INTO admin_customers (id, name, status, host, compose_project) VALUES ($1, $1, 'active', 'h', 'p')", [id]);

function expectNoSecret(...outputs: string[]) {
  for (const output of outputs) for (const value of Object.values(stored)) expect(output).not.toContain(value);
}

beforeAll(async () => {
  h = await createHarness('secrets');
  const started = await h.cli(['list']); // starts this file's admin database and applies the migrations
  if (started.exitCode !== 0) throw new Error(`starting the admin database failed:\n${started.why}`);
  const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'admin-db.env'), 'utf8'))![1];
  registry = await AdminDb.open(`postgres://tenantctl:${password}@127.0.0.1:${h.env.TENANTCTL_ADMIN_DB_PORT!}/tenantctl_admin`, 'e2e-secrets-setup');
  await h.adminQuery("INSERT INTO admin_customers (id, name, status, host, compose_project) VALUES ('acme', 'ACME', 'active', 'h', 'p')");
  const box = await openSecretBox(registry, { env: withKey.env, stateDir: h.env.TENANTCTL_STATE_DIR! });
  stored = generateTenantSecrets();
  await storeTenantSecrets(registry, box, 'acme', stored);
}, 300_000);

afterAll(async () => {
  await registry?.close();
  await h?.cleanup();
}, 120_000);

describe('tenantctl secrets', () => {
  it('shows the stored secrets with the right key, as JSON and as KEY=value lines', async () => {
    const json = await h.cli(['secrets', 'acme', '--json'], withKey);
    expect(json.exitCode, json.why).toBe(0);
    expect(json.json()).toEqual({ id: 'acme', secrets: stored });

    const text = await h.cli(['secrets', 'acme'], withKey);
    expect(text.exitCode, text.why).toBe(0);
    for (const [name, value] of Object.entries(stored)) expect(text.stdout).toContain(`\n${name}=${value}`);
  });

  it('accepts the same key written as base64, and from the key file', async () => {
    const base64 = await h.cli(['secrets', 'acme', '--json'], { env: { TENANTCTL_MASTER_KEY: Buffer.from(key, 'hex').toString('base64') } });
    expect(base64.json().secrets).toEqual(stored);

    const file = path.join(h.dir, 'backup.key');
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    const fromFile = await h.cli(['secrets', 'acme', '--json'], { env: { TENANTCTL_MASTER_KEY_FILE: file } });
    expect(fromFile.json().secrets).toEqual(stored);
  });

  it('stores only ciphertext: no secret in the tenant row, the settings or the audit log', async () => {
    const [row] = await h.adminQuery("SELECT secrets_ciphertext FROM admin_customers WHERE id = 'acme'");
    expect(row.secrets_ciphertext).toMatch(/^v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/);
    const everything = JSON.stringify([
      await h.adminQuery('SELECT * FROM admin_customers'),
      await h.adminQuery('SELECT * FROM admin_settings'),
      await h.adminQuery('SELECT * FROM admin_audit_logs'),
    ]);
    expectNoSecret(everything);
    expect(everything).not.toContain(key);
  });

  it('records each view in the audit log, with the actor', async () => {
    const count = async () => (await h.adminQuery("SELECT count(*)::int AS n FROM admin_audit_logs WHERE customer_id = 'acme' AND action = 'secrets.viewed'"))[0].n as number;
    const before = await count();
    const viewed = await h.cli(['secrets', 'acme', '--json'], withKey);
    expect(viewed.exitCode, viewed.why).toBe(0);
    expect(await count()).toBe(before + 1);
    const [row] = await h.adminQuery("SELECT actor, new_values FROM admin_audit_logs WHERE customer_id = 'acme' AND action = 'secrets.viewed' ORDER BY id DESC LIMIT 1");
    expect(row.actor).toBe('e2e-secrets');
    expect(row.new_values.key).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses a different valid key with exit 2, showing nothing', async () => {
    const other = randomBytes(32).toString('hex');
    const result = await h.cli(['secrets', 'acme'], { env: { TENANTCTL_MASTER_KEY: other } });
    expect(result.exitCode, result.why).toBe(2);
    expect(result.stderr).toMatch(/the master key \(from TENANTCTL_MASTER_KEY\) does not match the one this admin database was set up with/);
    expect(result.stdout).toBe('');
    expectNoSecret(result.stdout, result.stderr);
    expect(result.stderr).not.toContain(other);

    const json = await h.cli(['secrets', 'acme', '--json'], { env: { TENANTCTL_MASTER_KEY: other } });
    expect(json.json().error).toMatchObject({ code: 'usage', exitCode: 2, message: expect.stringContaining('does not match') });
    expectNoSecret(json.stdout, json.stderr);
  });

  it('refuses a malformed key with exit 2, without echoing it', async () => {
    const result = await h.cli(['secrets', 'acme'], { env: { TENANTCTL_MASTER_KEY: `${key}00` } });
    expect(result.exitCode, result.why).toBe(2);
    expect(result.stderr).toMatch(/TENANTCTL_MASTER_KEY must be 32 bytes/);
    expect(result.stderr).not.toContain(key.slice(0, 16));
    expectNoSecret(result.stdout, result.stderr);
  });

  it('says the key is missing when there is neither TENANTCTL_MASTER_KEY nor a key file, and creates none', async () => {
    const result = await h.cli(['secrets', 'acme']);
    expect(result.exitCode, result.why).toBe(2);
    expect(result.stderr).toMatch(/master key missing: /);
    expect(result.stderr).toContain(path.join(h.env.TENANTCTL_STATE_DIR!, 'master.key'));
    expectNoSecret(result.stdout, result.stderr);
    expect(() => readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'master.key'))).toThrow();
  });

  it('exits 3 for an unknown tenant, and for a tenant without stored secrets', async () => {
    const unknown = await h.cli(['secrets', 'nobody'], withKey);
    expect(unknown.exitCode, unknown.why).toBe(3);
    expect(unknown.stderr).toMatch(/no tenant nobody/);

    await insertTenant('initech');
    const none = await h.cli(['secrets', 'initech'], withKey);
    expect(none.exitCode, none.why).toBe(3);
    expect(none.stderr).toMatch(/no stored secrets for initech/);
  });

  it('refuses a ciphertext copied to another tenant\'s row, and an altered one, instead of returning garbage', async () => {
    await insertTenant('globex');
    await h.adminQuery("UPDATE admin_customers SET secrets_ciphertext = (SELECT secrets_ciphertext FROM admin_customers WHERE id = 'acme') WHERE id = 'globex'");
    const copied = await h.cli(['secrets', 'globex'], withKey);
    expect(copied.exitCode, copied.why).toBe(8);
    expect(copied.stderr).toMatch(/sealed tenant-secrets:globex in the admin database cannot be opened/);
    expectNoSecret(copied.stdout, copied.stderr);

    const [row] = await h.adminQuery("SELECT secrets_ciphertext FROM admin_customers WHERE id = 'acme'");
    const parts = row.secrets_ciphertext.split(':');
    parts[3] = `${parts[3].slice(0, -2)}${parts[3].endsWith('AA') ? 'BA' : 'AA'}`;
    await h.adminQuery("UPDATE admin_customers SET secrets_ciphertext = $1 WHERE id = 'globex'", [['v1', parts[1], parts[2], parts[3]].join(':')]);
    const altered = await h.cli(['secrets', 'globex'], withKey);
    expect(altered.exitCode, altered.why).toBe(8);
    expectNoSecret(altered.stdout, altered.stderr);
  });

  it('refuses plaintext written into the column by mistake', async () => {
    await insertTenant('hooli');
    await expect(h.adminQuery("UPDATE admin_customers SET secrets_ciphertext = '{\"DB_PASSWORD\":\"x\"}' WHERE id = 'hooli'")).rejects.toThrow(/check constraint/);
  });
});
