// Least privilege of a crm tenant's database (issue 21): its owner role, tenant_owner, is no
// superuser. Logged in over TCP with its password, it cannot make itself one, run a program
// through COPY, or read pg_authid; the tenant's objects are still its own, the migrations (applied
// as the server's superuser over its local socket, each as the owner with SET ROLE) and backup /
// restore / rotate-secrets still work; and a tenant from before, whose owner was the bootstrap
// superuser (oid 10), is converted by `tenantctl migrate`. The relays through the engine (to a port
// the host does not publish, and to the server's local socket) listen on unix sockets in 0700
// directories, not on loopback ports. One tenant for the whole file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { execa } from 'execa';
import { containerOf, createHarness, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { DockerHost, parseDockerEndpoint } from '../../src/engine/docker-host.js';
import { openExecTunnel } from '../../src/engine/exec-tunnel.js';
import { openSocketRelay } from '../../src/engine/socket-relay.js';

let h: Harness;
let migrations = '';
let dbPort = 0;
const id = 'lp1';
const root = path.resolve(import.meta.dirname, '..', '..');

beforeAll(async () => {
  h = await createHarness('leastpriv', {
    TENANTCTL_SUBNET_POOL: `10.${200 + Math.floor(Math.random() * 50)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4950-4969', TENANTCTL_DB_PORTS: '5950-5969', TENANTCTL_REDIS_PORTS: '6950-6969',
  });
  migrations = path.join(h.dir, 'tenant-migrations');
  mkdirSync(migrations);
  copyFileSync(path.join(root, 'templates', 'crm', 'migrations', 'init-db.sql'), path.join(migrations, 'init-db.sql'));
  h.env.TENANTCTL_TENANT_MIGRATIONS = migrations;
  const r = await h.cli(['provision', id, '--json']);
  expect(r.exitCode, r.why).toBe(0);
  expect(r.json().appliedMigrations).toEqual(['init-db.sql']);
  dbPort = r.json().ports.db;
}, 300_000);

afterAll(async () => {
  await h?.cleanup();
});

const secret = (name: string) => readFileSync(path.join(h.customersDir, id, 'secrets', name), 'utf8').trim();

/** A TCP login as `user` with `password`, as the app or an attacker holding the owner's password would. */
async function login<T>(user: string, password: string, use: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: '127.0.0.1', port: dbPort, user, password, database: 'tenant', connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** SQL over the container's local socket as its superuser (what tenantctl's maintenance uses). */
async function asSuperuser(sql: string, user = 'postgres'): Promise<string> {
  const db = await containerOf(`${h.prefix}-${id}`, 'db');
  const r = await execa('docker', ['exec', db, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', user, '-d', 'tenant', '-c', sql], { timeout: 60_000 });
  return r.stdout.trim();
}

/** The error code a statement fails with as the owner (or 'ok'). */
async function asOwner(sql: string): Promise<string> {
  return login('tenant_owner', secret('DB_PASSWORD'), (c) => c.query(sql).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error'));
}

/** The relay socket directories (engine/private-socket-dir.ts) the process `pid` made. */
function relayDirsOf(pid: number): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('tenantctl-relay-')).map((name) => path.join(tmpdir(), name))
    .filter((dir) => { try { return readFileSync(path.join(dir, 'pid'), 'utf8').trim() === String(pid); } catch { return false; } });
}

const ownersOfTenantObjects = "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('crm', 'app', 'public') AND c.relkind IN ('r', 'i')";

describe('the crm owner role is no superuser', () => {
  it('cannot make itself a superuser, run a program or read pg_authid; still owns and sees the tenant data', async () => {
    // Not the bootstrap role (oid 10, which owns the catalogs) either.
    expect(await login('tenant_owner', secret('DB_PASSWORD'), async (c) => (await c.query('SELECT rolsuper, rolcreaterole, rolbypassrls, oid = 10 AS bootstrap FROM pg_roles WHERE rolname = current_user')).rows[0]))
      .toEqual({ rolsuper: false, rolcreaterole: false, rolbypassrls: true, bootstrap: false });
    // 42501: insufficient privilege, each.
    expect(await asOwner('ALTER ROLE tenant_owner SUPERUSER')).toBe('42501');
    expect(await asOwner("COPY (SELECT 1) TO PROGRAM 'id'")).toBe('42501');
    expect(await asOwner('SELECT rolpassword FROM pg_authid')).toBe('42501');
    expect(await asOwner('GRANT pg_execute_server_program TO tenant_owner')).toBe('42501');
    // The superuser has no password: no TCP login as it (28P01, or 28000 with no password to send).
    const superTcp = await login('postgres', secret('DB_PASSWORD'), async () => 'ok').catch((e: { code?: string }) => e.code);
    expect(superTcp).toBe('28P01');
    // What the migration made is the owner's; the app's role kept its search_path; the owner sees every row.
    expect(await asSuperuser(ownersOfTenantObjects)).toBe('tenant_owner');
    expect(await asSuperuser("SELECT setconfig::text FROM pg_db_role_setting WHERE setrole = 'tenant_app'::regrole")).toBe('{"search_path=crm, public"}');
    expect(await asOwner("INSERT INTO crm.organizations (name, slug) VALUES ('Kept', 'kept')")).toBe('ok');
    expect(await login('tenant_owner', secret('DB_PASSWORD'), async (c) => (await c.query('SELECT count(*)::int AS n FROM crm.organizations')).rows[0].n)).toBe(1);
  });

  it('a new migration is applied as the owner, which owns what it creates', async () => {
    writeFileSync(path.join(migrations, '002_tags.sql'), 'CREATE TABLE crm.tags (id int PRIMARY KEY, name text NOT NULL);\nGRANT SELECT ON crm.tags TO tenant_app;\n');
    const r = await h.cli(['migrate', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ migrations: ['002_tags.sql'], ownerChange: 'none' });
    expect(await asSuperuser("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'crm.tags'::regclass")).toBe('tenant_owner');
    expect(await asSuperuser("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.tenant_schema_migrations'::regclass")).toBe('tenant_owner');
    expect(await asSuperuser("SELECT rolcreaterole FROM pg_roles WHERE rolname = 'tenant_owner'")).toBe('f');
  }, 120_000);

  /** What the owner can plant to catch a session of tenantctl's: a function that tries to become, or grant itself, more. */
  const escalate = `CREATE FUNCTION public.e2e_escalate() RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN
    BEGIN EXECUTE 'RESET ROLE'; EXECUTE 'SET ROLE postgres'; EXCEPTION WHEN others THEN NULL; END;
    BEGIN EXECUTE 'ALTER ROLE tenant_owner SUPERUSER'; EXCEPTION WHEN others THEN NULL; END;
    BEGIN EXECUTE 'GRANT pg_execute_server_program TO tenant_owner'; EXCEPTION WHEN others THEN NULL; END;
    RETURN true; END $f$;
    CREATE FUNCTION public.e2e_escalate_trigger() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN PERFORM public.e2e_escalate(); RETURN NEW; END $f$;
    CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS $f$ SELECT CASE WHEN public.e2e_escalate() THEN pg_catalog.now() END $f$;
    ALTER DATABASE tenant SET search_path = public, pg_catalog;`;
  const ownerIsStillNoSuperuser = "SELECT rolsuper || ':' || rolcreaterole || ':' || pg_has_role('tenant_owner', 'pg_execute_server_program', 'MEMBER') FROM pg_roles WHERE rolname = 'tenant_owner'";

  it('what the owner plants (a trigger or a view in place of tenant_schema_migrations, a database search_path, a function a migration calls) never runs as a superuser', async () => {
    expect(await asOwner(`${escalate}
      CREATE TRIGGER e2e_escalate BEFORE INSERT OR UPDATE ON public.tenant_schema_migrations FOR EACH ROW EXECUTE FUNCTION public.e2e_escalate_trigger();`)).toBe('ok');
    writeFileSync(path.join(migrations, '003_calls.sql'), 'SELECT e2e_escalate();\nCREATE TABLE crm.notes (id int PRIMARY KEY, at timestamptz DEFAULT now());\n');
    const r = await h.cli(['migrate', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ migrations: ['003_calls.sql'] });
    expect(await asSuperuser(ownerIsStillNoSuperuser)).toBe('false:false:false');

    // The view variant: the record is a view whose every read calls the owner's function.
    expect(await asOwner(`DROP TRIGGER e2e_escalate ON public.tenant_schema_migrations;
      ALTER TABLE public.tenant_schema_migrations RENAME TO e2e_record;
      CREATE VIEW public.tenant_schema_migrations AS SELECT name, checksum, applied_at FROM public.e2e_record WHERE public.e2e_escalate();`)).toBe('ok');
    writeFileSync(path.join(migrations, '004_more.sql'), 'CREATE TABLE crm.more (id int PRIMARY KEY);\n');
    const again = await h.cli(['migrate', id, '--json']);
    expect(again.exitCode, again.why).toBe(0);
    expect(again.json()).toMatchObject({ migrations: ['004_more.sql'] });
    expect(await asSuperuser(ownerIsStillNoSuperuser)).toBe('false:false:false');

    // Back to the plain record for the tests after this one.
    expect(await asOwner(`DROP VIEW public.tenant_schema_migrations; ALTER TABLE public.e2e_record RENAME TO tenant_schema_migrations;
      DROP TABLE crm.notes, crm.more; DROP FUNCTION public.now(), public.e2e_escalate_trigger(), public.e2e_escalate();
      ALTER DATABASE tenant RESET search_path;`)).toBe('ok');
  }, 150_000);

  it('backup and restore keep the data and the owner; rotate-secrets changes the owner\'s password', async () => {
    const backup = await h.cli(['backup', id, '--json']);
    expect(backup.exitCode, backup.why).toBe(0);
    expect(await asOwner("DELETE FROM crm.organizations WHERE slug = 'kept'")).toBe('ok');
    const restore = await h.cli(['restore', id, '--from', backup.json().id, '--yes', '--json']);
    expect(restore.exitCode, restore.why).toBe(0);
    expect(await asSuperuser("SELECT name FROM crm.organizations WHERE slug = 'kept'")).toBe('Kept');
    expect(await asSuperuser(ownersOfTenantObjects)).toBe('tenant_owner');
    expect(await asSuperuser("SELECT rolsuper FROM pg_roles WHERE rolname = 'tenant_owner'")).toBe('f');

    const before = secret('DB_PASSWORD');
    const rotate = await h.cli(['rotate-secrets', id, '--only', 'DB_PASSWORD', '--json']);
    expect(rotate.exitCode, rotate.why).toBe(0);
    expect(secret('DB_PASSWORD')).not.toBe(before);
    expect(await asOwner('SELECT 1')).toBe('ok');
    expect(await login('tenant_owner', before, async () => 'ok').catch((e: { code?: string }) => e.code)).toBe('28P01');
  }, 240_000);

  /** Back to the old shape: the bootstrap role (oid 10) named tenant_owner, owning everything, with the owner's password. */
  async function makeOwnerBootstrapSuperuser(): Promise<void> {
    const db = await containerOf(`${h.prefix}-${id}`, 'db');
    const psql = (user: string, sql: string) => execa('docker', ['exec', db, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', user, '-d', 'tenant', '-c', sql], { timeout: 60_000 });
    await psql('postgres', 'CREATE ROLE e2e_helper SUPERUSER LOGIN');
    await psql('e2e_helper', `BEGIN; ALTER ROLE tenant_owner RENAME TO e2e_old_owner; ALTER ROLE postgres RENAME TO tenant_owner;
      DO $$ BEGIN EXECUTE format('ALTER ROLE tenant_owner PASSWORD %L', (SELECT rolpassword FROM pg_authid WHERE rolname = 'e2e_old_owner')); END $$;
      REASSIGN OWNED BY e2e_old_owner TO tenant_owner; DROP OWNED BY e2e_old_owner; DROP ROLE e2e_old_owner; COMMIT;`);
    await psql('tenant_owner', 'DROP ROLE e2e_helper');
    // The old shape indeed: the owner reads pg_authid.
    expect(await asOwner('SELECT rolpassword FROM pg_authid WHERE oid = 10')).toBe('ok');
  }

  const rolesShape = "SELECT string_agg(rolname || ':' || (oid = 10) || ':' || rolsuper || ':' || (rolpassword IS NULL), ',' ORDER BY rolname) FROM pg_authid WHERE rolname IN ('postgres', 'tenant_owner', 'tenantctl_maint')";

  it('migrate converts a tenant whose owner is the bootstrap superuser (as crm tenants were provisioned before)', async () => {
    await makeOwnerBootstrapSuperuser();
    // What the old superuser owner may have left: an event trigger, a role in pg_execute_server_program (reported, review H2).
    await asSuperuser(`CREATE FUNCTION public.e2e_evt() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
      CREATE EVENT TRIGGER e2e_evt ON ddl_command_start EXECUTE FUNCTION public.e2e_evt(); CREATE ROLE e2e_prog; GRANT pg_execute_server_program TO e2e_prog;`, 'tenant_owner');
    // A dry run says the conversion is pending and does nothing (review L2).
    const dry = await h.cli(['migrate', id, '--dry-run', '--json']);
    expect(dry.exitCode, dry.why).toBe(0);
    expect(dry.json()).toMatchObject({ dryRun: true, migrations: [], ownerChange: 'separated' });
    expect(await asSuperuser("SELECT rolsuper FROM pg_roles WHERE rolname = 'tenant_owner'", 'tenant_owner')).toBe('t');
    // A session logged in as the old superuser owner would keep its rights past the conversion: ended by it.
    const open = new pg.Client({ host: '127.0.0.1', port: dbPort, user: 'tenant_owner', password: secret('DB_PASSWORD'), database: 'tenant' });
    open.on('error', () => {});
    await open.connect();
    const r = await h.cli(['migrate', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ migrations: [], ownerChange: 'separated' });
    const leftovers = ['event trigger e2e_evt (runs as whoever fires it, superusers included)', 'role e2e_prog is a member of pg_execute_server_program'];
    expect(r.json().ownerLeftovers).toEqual(expect.arrayContaining(leftovers));
    await asSuperuser('DROP EVENT TRIGGER e2e_evt; DROP FUNCTION public.e2e_evt(); DROP ROLE e2e_prog;');
    expect(await open.query('SELECT 1').then(() => 'still open', (e: { code?: string; message?: string }) => e.code ?? e.message)).not.toBe('still open');
    await open.end().catch(() => {});
    expect(await asSuperuser(rolesShape)).toBe('postgres:true:true:true,tenant_owner:false:false:false');
    expect(await asSuperuser(ownersOfTenantObjects)).toBe('tenant_owner');
    expect(await asSuperuser("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'tenant'")).toBe('tenant_owner');
    expect(await asOwner('SELECT rolpassword FROM pg_authid')).toBe('42501');
    expect(await asOwner("COPY (SELECT 1) TO PROGRAM 'id'")).toBe('42501');
    expect(await asSuperuser("SELECT count(*) FROM crm.organizations WHERE slug = 'kept'")).toBe('1');
    const audit = await h.adminQuery(`SELECT new_values FROM admin_audit_logs WHERE customer_id = '${id}' AND action = 'tenant.owner-role'`);
    expect(audit).toMatchObject([{ new_values: { owner: 'tenant_owner', change: 'separated', leftovers: expect.arrayContaining(leftovers) } }]);
    // The app still works with its own role, and a second migrate changes nothing.
    const status = await h.cli(['status', id, '--json']);
    expect(status.exitCode, status.why).toBe(0);
    const again = await h.cli(['migrate', id, '--json']);
    expect(again.json()).toMatchObject({ migrations: [], ownerChange: 'none' });
  }, 120_000);

  it('migrate keeps an MD5 password of the old owner (a rename clears it: the role name is its salt)', async () => {
    await makeOwnerBootstrapSuperuser();
    const verifier = "SELECT rolpassword FROM pg_authid WHERE rolname = 'tenant_owner'";
    const scram = await asSuperuser(verifier, 'tenant_owner');
    const db = await containerOf(`${h.prefix}-${id}`, 'db');
    // On stdin, not argv: a test password, but the habit holds.
    const psqlIn = (user: string, sql: string) => execa('docker', ['exec', '-i', db, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-U', user, '-d', 'tenant'], { input: sql, timeout: 60_000 });
    await psqlIn('tenant_owner', "SET password_encryption = md5; ALTER ROLE tenant_owner PASSWORD 'e2e-md5-password';");
    const md5 = await asSuperuser(verifier, 'tenant_owner');
    expect(md5).toMatch(/^md5[0-9a-f]{32}$/);
    const r = await h.cli(['migrate', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ ownerChange: 'separated' });
    expect(await asSuperuser(verifier)).toBe(md5);
    expect(await asSuperuser("SELECT rolsuper FROM pg_roles WHERE rolname = 'tenant_owner'")).toBe('f');
    // The owner's own password again, for the tests after this one.
    await psqlIn('postgres', `ALTER ROLE tenant_owner PASSWORD '${scram}';`);
    expect(await asOwner('SELECT 1')).toBe('ok');
  }, 120_000);

  it('a migrate killed (-9) with the helper role made, or interrupted (SIGINT) once separated, is finished by the next one, from the journal', async () => {
    await makeOwnerBootstrapSuperuser();
    const conversions = () => h.adminQuery("SELECT id, step, state, data->>'change' AS change, data->>'owner' AS owner FROM admin_operations WHERE customer_id = $1 AND verb = 'owner-conversion' ORDER BY id", [id]);
    const before = (await conversions()).length;
    const killed = await startPausedAt(h, ['migrate', id, '--json'], 'schema:owner-helper');
    killed.child.kill('SIGKILL');
    await killed.child;
    // The intent was on record before the helper role was made, and the step after it.
    const afterKill = (await conversions()).slice(before);
    expect(afterKill).toMatchObject([{ step: 'helper-made', state: 'running', change: 'separated', owner: 'tenant_owner' }]);
    // Its relay's socket directory stays behind (nobody could remove it); the next tenantctl to open one removes it.
    const leftovers = relayDirsOf(killed.child.pid!);
    expect(leftovers).toHaveLength(1);
    // Killed before the separation: the owner is still the bootstrap superuser, and a helper superuser exists (local socket only, no password).
    expect(await asSuperuser(rolesShape, 'tenant_owner')).toBe('tenant_owner:true:true:false,tenantctl_maint:false:true:true');

    // The next migrate settles the journal entry first, through the same pause points: interrupted there, once separated.
    const interrupted = await startPausedAt(h, ['migrate', id, '--json'], 'schema:owner-separated');
    interrupted.child.kill('SIGINT');
    interrupted.resume();
    expect((await interrupted.child).exitCode).toBe(130);
    // The separation committed; only the helper is left, and the same entry says so.
    expect(await asSuperuser(rolesShape)).toBe('postgres:true:true:true,tenant_owner:false:false:false,tenantctl_maint:false:true:true');
    expect((await conversions()).slice(before)).toMatchObject([{ id: afterKill[0].id, step: 'separated', state: 'running' }]);

    const r = await h.cli(['migrate', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ ownerChange: 'none' });
    expect(r.stderr).toMatch(/interrupted owner-conversion of lp1 is finished/);
    expect((await conversions()).slice(before)).toMatchObject([{ id: afterKill[0].id, step: 'separated', state: 'completed' }]);
    const [audit] = await h.adminQuery("SELECT new_values->>'change' AS change FROM admin_audit_logs WHERE customer_id = $1 AND action = 'tenant.owner-role' ORDER BY id DESC LIMIT 1", [id]);
    expect(audit).toMatchObject({ change: 'separated' });
    expect(await asSuperuser(rolesShape)).toBe('postgres:true:true:true,tenant_owner:false:false:false');
    expect(leftovers.filter((dir) => existsSync(dir))).toEqual([]);
    expect(await asSuperuser(ownersOfTenantObjects)).toBe('tenant_owner');
  }, 180_000);

  it('a conversion killed (-9) once begun, whose database is then stopped, does not lock the tenant out: start runs the database and settles it', async () => {
    await makeOwnerBootstrapSuperuser();
    const conversions = () => h.adminQuery("SELECT id, step, state FROM admin_operations WHERE customer_id = $1 AND verb = 'owner-conversion' ORDER BY id", [id]);
    const before = (await conversions()).length;
    const killed = await startPausedAt(h, ['migrate', id, '--json'], 'schema:owner-begun');
    killed.child.kill('SIGKILL');
    await killed.child;
    // The intent on record, nothing done yet: no helper role.
    expect((await conversions()).slice(before)).toMatchObject([{ step: 'begun', state: 'running' }]);
    expect(await asSuperuser(rolesShape, 'tenant_owner')).toBe('tenant_owner:true:true:false');
    await execa('docker', ['stop', await containerOf(`${h.prefix}-${id}`, 'db')], { timeout: 60_000 });
    // The database not running: the entry waits (named, with the way to close it by hand), the start goes on and settles it before it ends.
    const r = await h.cli(['start', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.stderr).toMatch(/interrupted owner-conversion of lp1 waits .*tenantctl operations abandon lp1/);
    expect(r.stderr).toMatch(/interrupted owner-conversion of lp1 is finished/);
    expect((await conversions()).slice(before)).toMatchObject([{ step: 'separated', state: 'completed' }]);
    expect(await asSuperuser(rolesShape)).toBe('postgres:true:true:true,tenant_owner:false:false:false');
  }, 180_000);

  it('a conversion that cannot finish is undone at once: its journal entry closed, the helper role dropped, the owner as it was', async () => {
    await makeOwnerBootstrapSuperuser();
    // A role named postgres already: the bootstrap role cannot get its name back, so the separation refuses (one transaction, nothing of it stays).
    await asSuperuser('CREATE ROLE postgres NOLOGIN', 'tenant_owner');
    const failed = await h.cli(['migrate', id, '--json']);
    expect(failed.exitCode).not.toBe(0);
    expect(failed.why).toMatch(/a role postgres exists already/);
    const [op] = await h.adminQuery("SELECT step, state, reason FROM admin_operations WHERE customer_id = $1 AND verb = 'owner-conversion' ORDER BY id DESC LIMIT 1", [id]);
    expect(op).toMatchObject({ step: 'helper-made', state: 'undone', reason: expect.stringMatching(/^owner conversion failed: .*a role postgres exists already/) });
    expect(await asSuperuser(rolesShape, 'tenant_owner')).toBe('postgres:false:false:true,tenant_owner:true:true:false');
    // Not held by it: the next migrate, once the way is clear, converts.
    await asSuperuser('DROP ROLE postgres', 'tenant_owner');
    const r = await h.cli(['migrate', id, '--json']);
    expect(r.exitCode, r.why).toBe(0);
    expect(r.json()).toMatchObject({ ownerChange: 'separated' });
    expect(await asSuperuser(rolesShape)).toBe('postgres:true:true:true,tenant_owner:false:false:false');
  }, 120_000);

  it('the relays through the engine are unix sockets in 0700 directories, gone when closed', async () => {
    const host = new DockerHost('this machine', parseDockerEndpoint(undefined));
    const db = await containerOf(`${h.prefix}-${id}`, 'db');
    const tunnel = await openExecTunnel(host, async () => db, 5432);
    const relay = await openSocketRelay(host, db, '/run/postgresql/.s.PGSQL.5432');
    try {
      for (const end of [tunnel.socketPath, relay.socketPath]) {
        expect(statSync(path.dirname(end)).mode & 0o777).toBe(0o700);
        expect(statSync(end).isSocket()).toBe(true);
      }
      // The port relay reaches the server's TCP port: the owner's password is asked.
      const viaTunnel = new pg.Client({ host: tunnel.host, port: tunnel.port, user: 'tenant_owner', password: secret('DB_PASSWORD'), database: 'tenant' });
      await viaTunnel.connect();
      expect((await viaTunnel.query('SELECT current_user AS u')).rows[0].u).toBe('tenant_owner');
      await viaTunnel.end();
      const wrong = new pg.Client({ host: tunnel.host, port: tunnel.port, user: 'tenant_owner', password: 'wrong', database: 'tenant' });
      expect(await wrong.connect().then(() => 'ok', (e: { code?: string }) => e.code)).toBe('28P01');
      // The socket relay reaches the local socket, which trusts: the superuser, with no password.
      const viaRelay = new pg.Client({ host: relay.dir, port: 5432, user: 'postgres', database: 'tenant' });
      await viaRelay.connect();
      expect((await viaRelay.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0].rolsuper).toBe(true);
      await viaRelay.end();
    } finally {
      await tunnel.close();
      await relay.close();
    }
    expect(existsSync(path.dirname(tunnel.socketPath)) || existsSync(relay.dir)).toBe(false);
  }, 60_000);
});
