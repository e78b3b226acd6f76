// Tenant migrations on real Docker: provision applies the directory (init-db.sql first), a new
// NNN_*.sql is listed by --dry-run and applied by migrate (--all), a second run is a no-op, and a
// file changed after it was applied is refused (exit 2), named, with nothing applied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { containerOf, createHarness, type Harness } from './harness.js';

let h: Harness;
let migrations = '';
const root = path.resolve(import.meta.dirname, '..', '..');

beforeAll(async () => {
  h = await createHarness('migrate', {
    TENANTCTL_SUBNET_POOL: `10.${200 + Math.floor(Math.random() * 50)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4750-4799', TENANTCTL_DB_PORTS: '5750-5799', TENANTCTL_REDIS_PORTS: '6750-6799',
  });
  migrations = path.join(h.dir, 'tenant-migrations');
  mkdirSync(migrations);
  copyFileSync(path.join(root, 'templates', 'crm', 'migrations', 'init-db.sql'), path.join(migrations, 'init-db.sql'));
  h.env.TENANTCTL_TENANT_MIGRATIONS = migrations;
});

afterAll(async () => {
  await h?.cleanup();
});

async function psql(sql: string): Promise<string> {
  const db = await containerOf(`${h.prefix}-m1`, 'db');
  const r = await execa('docker', ['exec', db, 'psql', '-X', '-q', '-A', '-t', '-U', 'tenant_owner', '-d', 'tenant', '-c', sql], { timeout: 60_000 });
  return r.stdout.trim();
}

const tags = `CREATE TABLE crm.tags (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES crm.organizations (id) ON DELETE CASCADE,
  name text NOT NULL
);
ALTER TABLE crm.tags ENABLE ROW LEVEL SECURITY;
CREATE POLICY tags_isolation ON crm.tags FOR ALL TO tenant_app USING (organization_id = app.current_org_id()) WITH CHECK (organization_id = app.current_org_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON crm.tags TO tenant_app;
`;

describe('tenant migrations', () => {
  it('provision applies init-db.sql under the name existing tenants have on record, with its checksum', async () => {
    const r = await h.cli(['provision', 'm1', '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json().appliedMigrations).toEqual(['init-db.sql']);
    const sql = readFileSync(path.join(root, 'templates', 'crm', 'migrations', 'init-db.sql'));
    expect(await psql('SELECT name || \' \' || checksum FROM tenant_schema_migrations')).toBe(`init-db.sql ${createHash('sha256').update(sql).digest('hex')}`);
  }, 300_000);

  it('lists a new migration with --dry-run, applies it with --all, then is up to date', async () => {
    writeFileSync(path.join(migrations, '002_tags.sql'), tags);
    const dry = await h.cli(['migrate', 'm1', '--dry-run', '--json']);
    expect(dry.exitCode, dry.why).toBe(0);
    expect(dry.json()).toMatchObject({ id: 'm1', dryRun: true, migrations: ['002_tags.sql'] });
    expect(await psql("SELECT to_regclass('crm.tags') IS NULL")).toBe('t');

    const all = await h.cli(['migrate', '--all', '--json']);
    expect(all.exitCode, all.why).toBe(0);
    expect(all.json().tenants).toEqual([{ id: 'm1', ok: true, result: expect.objectContaining({ migrations: ['002_tags.sql'] }) }]);
    expect(await psql("SELECT string_agg(name, ',' ORDER BY applied_at, name) FROM tenant_schema_migrations")).toBe('init-db.sql,002_tags.sql');
    const audit = await h.adminQuery("SELECT new_values FROM admin_audit_logs WHERE customer_id = 'm1' AND action = 'tenant.migrated'");
    expect(audit).toEqual([{ new_values: { migrations: ['002_tags.sql'] } }]);

    const again = await h.cli(['migrate', 'm1', '--json']);
    expect(again.exitCode, again.why).toBe(0);
    expect(again.json().migrations).toEqual([]);
  }, 300_000);

  it('refuses a migration changed after it was applied (exit 2), naming it, and applies nothing', async () => {
    writeFileSync(path.join(migrations, '002_tags.sql'), `${tags}\n-- edited\n`);
    writeFileSync(path.join(migrations, '003_notes.sql'), 'CREATE TABLE crm.notes_extra (id int PRIMARY KEY);\n');
    const r = await h.cli(['migrate', 'm1', '--json']);
    expect(r.exitCode, r.why).toBe(2);
    expect(r.json().error.message).toMatch(/002_tags\.sql changed after it was applied/);
    expect(await psql("SELECT to_regclass('crm.notes_extra') IS NULL")).toBe('t');
    const dry = await h.cli(['migrate', 'm1', '--dry-run', '--json']);
    expect(dry.exitCode, dry.why).toBe(2);

    // A file not named NNN_what.sql is refused too, before anything is applied.
    writeFileSync(path.join(migrations, '002_tags.sql'), tags);
    writeFileSync(path.join(migrations, 'extra.sql'), 'SELECT 1;');
    const odd = await h.cli(['migrate', 'm1', '--json']);
    expect(odd.exitCode, odd.why).toBe(2);
    expect(odd.json().error.message).toMatch(/extra\.sql is not named NNN_what\.sql/);
    rmSync(path.join(migrations, 'extra.sql'));
    const ok = await h.cli(['migrate', 'm1', '--json']);
    expect(ok.exitCode, ok.why).toBe(0);
    expect(ok.json().migrations).toEqual(['003_notes.sql']);
  }, 300_000);
});
