import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type pg from 'pg';
import { openSecretBox } from '../../src/secrets/master-key.js';
import { TenantctlError } from '../../src/common/errors.js';
import { tempDir } from './temp-dirs.js';

// The master key's resolution and check, against a stand-in for admin_settings (the e2e test runs
// the same code against a real admin database).

function fakeRegistry() {
  const settings = new Map<string, string>();
  const query = async (sql: string, params: string[]) => {
    if (sql.startsWith('SELECT value FROM admin_settings')) return { rows: settings.has(params[0]!) ? [{ value: settings.get(params[0]!) }] : [] };
    if (sql.startsWith('INSERT INTO admin_settings')) {
      if (!settings.has(params[0]!)) settings.set(params[0]!, params[1]!); // ON CONFLICT DO NOTHING
      return { rows: [] };
    }
    throw new Error(`unexpected query ${sql}`);
  };
  return { settings, registry: { pool: { query } as unknown as pg.Pool } };
}

const stateDir = () => path.join(tempDir('tenantctl-key-'), 'state');
const hexKey = () => randomBytes(32).toString('hex');

async function refusal(promise: Promise<unknown>): Promise<TenantctlError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(TenantctlError);
  return error as TenantctlError;
}

describe('openSecretBox', () => {
  it('creates <stateDir>/master.key (0600 in a 0700 dir) on first use and uses it afterwards', async () => {
    const { registry, settings } = fakeRegistry();
    const dir = stateDir();
    const first = await openSecretBox(registry, { env: {}, stateDir: dir });
    const file = path.join(dir, 'master.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    expect(readdirSync(dir)).toEqual(['master.key']); // no temporary file left
    expect(settings.get('master_key_check')).toMatch(/^v1:/);

    const again = await openSecretBox(registry, { env: {}, stateDir: dir });
    expect(again.fingerprint).toBe(first.fingerprint);
    expect(again.open(first.seal('hello', 'test:x'), 'test:x')).toBe('hello');
  });

  it('agrees on one key when several processes use it for the first time at once', async () => {
    const { registry } = fakeRegistry();
    const dir = stateDir();
    const boxes = await Promise.all(Array.from({ length: 8 }, () => openSecretBox(registry, { env: {}, stateDir: dir })));
    expect(new Set(boxes.map((b) => b.fingerprint)).size).toBe(1);
    expect(readdirSync(dir)).toEqual(['master.key']);
  });

  it('takes TENANTCTL_MASTER_KEY over the key file, and TENANTCTL_MASTER_KEY_FILE as the file', async () => {
    const { registry } = fakeRegistry();
    const key = hexKey();
    const dir = stateDir();
    const fromEnv = await openSecretBox(registry, { env: { TENANTCTL_MASTER_KEY: key }, stateDir: dir });
    const other = path.join(tempDir('tenantctl-key-'), 'elsewhere.key');
    writeFileSync(other, `${Buffer.from(key, 'hex').toString('base64')}\n`, { mode: 0o600 });
    const fromFile = await openSecretBox(registry, { env: { TENANTCTL_MASTER_KEY_FILE: other }, stateDir: dir });
    expect(fromFile.fingerprint).toBe(fromEnv.fingerprint);
  });

  it('refuses a key other than the one the database was set up with, naming neither key', async () => {
    const { registry } = fakeRegistry();
    const right = hexKey();
    const wrong = hexKey();
    await openSecretBox(registry, { env: { TENANTCTL_MASTER_KEY: right }, stateDir: stateDir() });
    const error = await refusal(openSecretBox(registry, { env: { TENANTCTL_MASTER_KEY: wrong }, stateDir: stateDir() }));
    expect(error.kind).toBe('usage');
    expect(error.message).toMatch(/does not match the one this admin database was set up with/);
    expect(error.message).not.toContain(wrong.slice(0, 8));
    expect(error.message).not.toContain(right.slice(0, 8));
  });

  it('does not make up a new key when the database already has one and none is given', async () => {
    const { registry } = fakeRegistry();
    await openSecretBox(registry, { env: { TENANTCTL_MASTER_KEY: hexKey() }, stateDir: stateDir() });
    const dir = stateDir();
    const error = await refusal(openSecretBox(registry, { env: {}, stateDir: dir }));
    expect(error.kind).toBe('usage');
    expect(error.message).toMatch(/^master key missing: /);
    expect(() => statSync(path.join(dir, 'master.key'))).toThrow();
  });

  it('with create: false, refuses instead of generating a key', async () => {
    const { registry, settings } = fakeRegistry();
    const dir = stateDir();
    const error = await refusal(openSecretBox(registry, { env: {}, stateDir: dir, create: false }));
    expect(error.message).toMatch(/^master key missing: /);
    expect(settings.size).toBe(0);
  });

  it('refuses a malformed key, from the environment or the key file, without echoing it', async () => {
    const { registry } = fakeRegistry();
    const env = await refusal(openSecretBox(registry, { env: { TENANTCTL_MASTER_KEY: 'hunter2hunter2' }, stateDir: stateDir() }));
    expect(env.kind).toBe('usage');
    expect(env.message).toMatch(/^TENANTCTL_MASTER_KEY must be/);
    expect(env.message).not.toContain('hunter2');

    const dir = stateDir();
    await openSecretBox(registry, { env: {}, stateDir: dir }).catch(() => {});
    writeFileSync(path.join(dir, 'master.key'), 'hunter2hunter2\n');
    const file = await refusal(openSecretBox(registry, { env: {}, stateDir: dir }));
    expect(file.message).toMatch(/master key file .*master\.key must be 32 bytes/);
    expect(file.message).not.toContain('hunter2');
  });

  it('reports a stored value that does not open as an admin database problem, not as garbage', async () => {
    const { registry } = fakeRegistry();
    const box = await openSecretBox(registry, { env: { TENANTCTL_MASTER_KEY: hexKey() }, stateDir: stateDir() });
    const sealed = box.seal('s3cret', 'tenant-secrets:acme');
    const error = (() => {
      try {
        box.open(sealed, 'tenant-secrets:globex');
      } catch (e) {
        return e as TenantctlError;
      }
    })();
    expect(error?.kind).toBe('adminDb');
    expect(error?.message).toMatch(/sealed tenant-secrets:globex .* cannot be opened/);
    expect(JSON.stringify(box)).not.toMatch(/[0-9a-f]{64}/); // the box does not carry the key where it could be printed
  });
});
