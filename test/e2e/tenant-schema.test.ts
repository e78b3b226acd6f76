// End-to-end check of a tenant database as tenantctl sets it up, on real Docker:
// templates/crm/initdb/01-create-app-role.sh runs in a fresh postgres container, scripts/init-db.sql
// is applied as tenant_owner in one transaction, and then the app role (tenant_app) is shown to
// be subject to row-level security.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const initdbDir = path.join(root, 'templates', 'crm', 'initdb');
const schemaSql = readFileSync(path.join(root, 'templates', 'crm', 'migrations', 'init-db.sql'), 'utf8');

const image = process.env.TENANTCTL_TEST_POSTGRES_IMAGE ?? 'tenantctl/postgres:15';
const label = 'tenantctl.test=tenant-schema';
const expectedTables = ['activities', 'contacts', 'deals', 'organizations', 'tasks', 'users'];

const ownerPassword = randomBytes(18).toString('base64url');
// Quotes, backslash, semicolon and shell syntax: proves the initdb script passes the password
// as data (psql variable), not as SQL or shell text.
const appPassword = `a'b"c\\d;$(id)\`x\` ${randomBytes(12).toString('base64url')}`;

let port = 0;

const docker = (args: string[], timeout = 60_000) => execa('docker', args, { timeout });

async function removeLabelled(): Promise<void> {
  const { stdout } = await docker(['ps', '-aq', '--filter', `label=${label}`]);
  const ids = stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await docker(['rm', '-fv', ...ids]);
}

function clientConfig(user: 'tenant_owner' | 'tenant_app'): pg.ClientConfig {
  return {
    host: '127.0.0.1',
    port,
    user,
    password: user === 'tenant_owner' ? ownerPassword : appPassword,
    database: 'tenant',
    connectionTimeoutMillis: 5_000,
  };
}

async function connect(user: 'tenant_owner' | 'tenant_app'): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(user));
  client.on('error', () => {}); // a dropped connection surfaces on the next query instead
  await client.connect();
  return client;
}

/** Runs fn with a fresh connection and always closes it. */
async function withClient<T>(user: 'tenant_owner' | 'tenant_app', fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(user);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Polls `SELECT 1` over TCP as tenant_owner until it works, the container dies, or the deadline passes. */
async function waitForPostgres(containerId: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    try {
      await withClient('tenant_owner', (c) => c.query('SELECT 1'));
      return;
    } catch (error) {
      lastError = error;
    }
    const { stdout: running } = await docker(['inspect', '--format', '{{.State.Running}}', containerId]);
    if (running.trim() !== 'true') {
      const logs = await docker(['logs', containerId]).catch(() => ({ stdout: '', stderr: '' }));
      throw new Error(`postgres container exited during start-up:\n${logs.stdout}\n${logs.stderr}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`postgres not reachable on 127.0.0.1:${port} within ${deadlineMs} ms: ${String(lastError)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const orgA = randomUUID();
const orgB = randomUUID();

beforeAll(async () => {
  await removeLabelled(); // leftovers of an interrupted earlier run

  const { stdout: containerId } = await docker([
    'run', '-d',
    '--label', label,
    '-p', '127.0.0.1::5432',
    '-v', `${initdbDir}:/docker-entrypoint-initdb.d:ro`,
    '-e', 'POSTGRES_USER=tenant_owner',
    // This file proves the schema's row-level security, seeding as a superuser owner; the owner
    // role's own shape (no superuser) is proven by provision's and least-privilege's e2e.
    '-e', 'OWNER_DB_SUPERUSER=1',
    '-e', `POSTGRES_PASSWORD=${ownerPassword}`,
    '-e', 'POSTGRES_DB=tenant',
    '-e', 'APP_DB_USER=tenant_app',
    '-e', `APP_DB_PASSWORD=${appPassword}`,
    image,
  ]);
  const id = containerId.trim();

  // e.g. "127.0.0.1:49154" (one line per published address)
  const { stdout: mapping } = await docker(['port', id, '5432/tcp']);
  const match = /127\.0\.0\.1:(\d+)/.exec(mapping);
  if (!match?.[1]) throw new Error(`unexpected \`docker port\` output: ${mapping}`);
  port = Number(match[1]);

  await waitForPostgres(id, 90_000);

  // As tenantctl does it: the whole file in one transaction, as tenant_owner.
  await withClient('tenant_owner', async (c) => {
    await c.query('BEGIN');
    try {
      await c.query(schemaSql);
      await c.query('COMMIT');
    } catch (error) {
      await c.query('ROLLBACK');
      throw error;
    }
  });

  // Seed two organizations with contacts and deals, as the owner (a superuser: RLS does not apply).
  await withClient('tenant_owner', async (c) => {
    await c.query(
      `INSERT INTO crm.organizations (id, name, slug) VALUES ($1, 'Org A', 'org-a'), ($2, 'Org B', 'org-b')`,
      [orgA, orgB],
    );
    await c.query(
      `INSERT INTO crm.contacts (organization_id, first_name, last_name, email) VALUES
         ($1, 'Ada', 'Lovelace', 'ada@a.example'),
         ($1, 'Alan', 'Turing', 'alan@a.example'),
         ($2, 'Grace', 'Hopper', 'grace@b.example')`,
      [orgA, orgB],
    );
    await c.query(
      `INSERT INTO crm.deals (organization_id, contact_id, title, stage, amount)
       SELECT organization_id, id, 'Deal for ' || first_name, 'qualified', 1000 FROM crm.contacts`,
    );
  });
}, 120_000);

afterAll(async () => {
  await removeLabelled();
}, 120_000);

describe('tenant database (initdb role script + scripts/init-db.sql)', () => {
  it('creates every expected table in schema crm with row-level security enabled', async () => {
    const { rows } = await withClient('tenant_owner', (c) =>
      c.query<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean; owner: string }>(
        `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'crm' AND c.relkind IN ('r', 'p')
          ORDER BY c.relname`,
      ),
    );
    expect(rows.map((r) => r.relname)).toEqual(expectedTables);
    for (const row of rows) {
      expect(row, row.relname).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true, owner: 'tenant_owner' });
    }
  });

  it('lets tenant_app log in with its password, but not as superuser, table owner or with BYPASSRLS', async () => {
    const result = await withClient('tenant_app', async (c) => {
      const role = await c.query(
        `SELECT current_user AS name, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,
                current_setting('is_superuser') AS is_superuser
           FROM pg_roles WHERE rolname = current_user`,
      );
      const owned = await c.query(
        `SELECT count(*)::int AS n FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)`,
      );
      return { role: role.rows[0], owned: owned.rows[0].n as number };
    });
    expect(result.role).toEqual({
      name: 'tenant_app',
      rolsuper: false,
      rolbypassrls: false,
      rolcreaterole: false,
      rolcreatedb: false,
      is_superuser: 'off',
    });
    expect(result.owned).toBe(0);
  });

  it('shows tenant_app no rows at all while no organization is set', async () => {
    await withClient('tenant_app', async (c) => {
      for (const table of expectedTables) {
        const { rows } = await c.query(`SELECT count(*)::int AS n FROM crm.${table}`);
        expect(rows[0].n, table).toBe(0);
      }
      // An explicitly cleared setting means "none" too.
      await c.query(`SELECT set_config('app.current_org_id', '', false)`);
      const { rows } = await c.query('SELECT count(*)::int AS n FROM crm.contacts');
      expect(rows[0].n).toBe(0);
    });
  });

  it('shows tenant_app only the contacts and deals of the organization it is set to', async () => {
    await withClient('tenant_app', async (c) => {
      await c.query(`SELECT set_config('app.current_org_id', $1, false)`, [orgA]);

      const contacts = await c.query('SELECT organization_id, email FROM crm.contacts ORDER BY email');
      expect(contacts.rows).toEqual([
        { organization_id: orgA, email: 'ada@a.example' },
        { organization_id: orgA, email: 'alan@a.example' },
      ]);

      const deals = await c.query('SELECT organization_id, title FROM crm.deals ORDER BY title');
      expect(deals.rows).toEqual([
        { organization_id: orgA, title: 'Deal for Ada' },
        { organization_id: orgA, title: 'Deal for Alan' },
      ]);

      const orgs = await c.query('SELECT id FROM crm.organizations');
      expect(orgs.rows).toEqual([{ id: orgA }]);

      // Switching the setting switches the view.
      await c.query(`SELECT set_config('app.current_org_id', $1, false)`, [orgB]);
      const other = await c.query('SELECT email FROM contacts'); // search_path = crm, public
      expect(other.rows).toEqual([{ email: 'grace@b.example' }]);
    });
  });

  it("rejects tenant_app writes into another organization's rows (WITH CHECK)", async () => {
    await withClient('tenant_app', async (c) => {
      await c.query(`SELECT set_config('app.current_org_id', $1, false)`, [orgA]);

      await expect(
        c.query(`INSERT INTO crm.contacts (organization_id, first_name) VALUES ($1, 'Mallory')`, [orgB]),
      ).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/row-level security/) });

      // Moving an own row to the other organization is refused as well.
      await expect(
        c.query(`UPDATE crm.contacts SET organization_id = $1 WHERE email = 'ada@a.example'`, [orgB]),
      ).rejects.toMatchObject({ code: '42501' });

      // Rows of the other organization cannot be reached at all: nothing updated, nothing deleted.
      const upd = await c.query(`UPDATE crm.contacts SET notes = 'x' WHERE organization_id = $1`, [orgB]);
      const del = await c.query(`DELETE FROM crm.deals WHERE organization_id = $1`, [orgB]);
      expect([upd.rowCount, del.rowCount]).toEqual([0, 0]);

      // The same insert into its own organization works (so the refusal above was RLS, not grants).
      const ok = await c.query(
        `INSERT INTO crm.contacts (organization_id, first_name) VALUES ($1, 'Mallory') RETURNING id`,
        [orgA],
      );
      expect(ok.rowCount).toBe(1);
      await c.query('DELETE FROM crm.contacts WHERE id = $1', [ok.rows[0].id]);
    });
    const { rows } = await withClient('tenant_owner', (c) =>
      c.query(`SELECT count(*)::int AS n FROM crm.contacts WHERE organization_id = $1`, [orgB]),
    );
    expect(rows[0].n).toBe(1);
  });

  it('enforces the constraints and maintains updated_at', async () => {
    await withClient('tenant_owner', async (c) => {
      await expect(
        c.query(`INSERT INTO crm.deals (organization_id, title, amount) VALUES ($1, 'Negative', -1)`, [orgA]),
      ).rejects.toMatchObject({ code: '23514' });
      await expect(
        c.query(`INSERT INTO crm.deals (organization_id, title, stage) VALUES ($1, 'Odd', 'maybe')`, [orgA]),
      ).rejects.toMatchObject({ code: '23514' });
      await expect(
        c.query(`INSERT INTO crm.contacts (organization_id, email) VALUES ($1, 'not-an-email')`, [orgA]),
      ).rejects.toMatchObject({ code: '23514' });
      // A deal of org A cannot point at a contact of org B (composite foreign key).
      await expect(
        c.query(
          `INSERT INTO crm.deals (organization_id, contact_id, title)
           SELECT $1, id, 'Cross' FROM crm.contacts WHERE organization_id = $2`,
          [orgA, orgB],
        ),
      ).rejects.toMatchObject({ code: '23503' });

      const { rows } = await c.query(
        `UPDATE crm.organizations SET name = 'Org A (renamed)' WHERE id = $1
         RETURNING updated_at > created_at AS bumped`,
        [orgA],
      );
      expect(rows).toEqual([{ bumped: true }]);
    });
  });
});
