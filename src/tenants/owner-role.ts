import type pg from 'pg';
import { ownerLeftovers } from './owner-leftovers.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// The tenant database's owner role is no superuser (issue 21). A template's first start makes it so
// for new tenants (templates/<name>/initdb/00-create-owner-role.sh: the image's superuser stays
// `postgres`, with no password, reached over the container's local socket only). A crm tenant
// provisioned before that has its owner as THE superuser: the image renamed its bootstrap role
// (oid 10) to tenant_owner. Taking SUPERUSER away from that role is not enough: oid 10 owns the
// system catalogs and pg_catalog itself, so it could still read pg_authid (every role's verifier)
// and create functions in pg_catalog that a superuser would later call. So the bootstrap role goes
// back to being `postgres` (no password) and the owner becomes a new role of the same name and
// password verifier, owning what the old one owned in the tenant database, without SUPERUSER,
// CREATEROLE, CREATEDB or REPLICATION, with BYPASSRLS (it owned tables that FORCE row-level
// security while it bypassed it as a superuser; pg_dump as the owner and `tenantctl psql` keep
// seeing every row).
//
// All of it runs over the container's local socket (tenants/schema.ts: the socket relay), and in one
// transaction, so it happens wholly or not at all. A role cannot rename itself (nor can a session
// rename its own user), so a helper superuser, tenantctl_maint, does the renaming; made first,
// dropped by the caller at the end of the schema step (dropMaintenanceRole), and found again and
// reused when a killed run left it behind.

export const maintenanceRole = 'tenantctl_maint';

export type OwnerChange = 'none' | 'demoted' | 'separated';

/** What a conversion did, and what of the old superuser's doing it found still there (tenants/owner-leftovers.ts). */
export interface OwnerSeparation {
  change: OwnerChange;
  leftovers: string[];
}

/**
 * Where a conversion records itself (the operation journal, verb 'owner-conversion': tenants/owner-conversion.ts):
 * `begin` before its first effect, `step` after each effect. A run without one (a template's first
 * start has nothing to convert) records nothing.
 */
export interface ConversionJournal {
  begin(change: Exclude<OwnerChange, 'none'>): Promise<void>;
  step(step: OwnerConversionStep): Promise<void>;
}

/** The steps of a conversion, in the journal: the helper made, then the owner separated; or the owner demoted. */
export type OwnerConversionStep = 'helper-made' | 'separated' | 'demoted';

const noJournal: ConversionJournal = { begin: async () => {}, step: async () => {} };

/** The login as which a session is opened (over the local socket: any role, no password). */
export type LoginAs = <T>(user: string, use: (client: pg.Client) => Promise<T>) => Promise<T>;

/**
 * Makes `owner` no superuser, if it is one (see above). Pause points (tests kill here):
 * `schema:owner-begun` once the intent is on record (before the helper role, or the demotion),
 * `schema:owner-demoted` once a non-bootstrap owner is demoted, `schema:owner-helper` once the helper role exists, `schema:owner-separated` once the owner is
 * separated; a run killed at either is finished by the next command on the tenant, from the
 * operation journal (tenants/owner-conversion.ts; each step is idempotent, the separation one
 * transaction, and the helper is dropped by every run's schema step). `journal` hears of the intent
 * before the first effect and of each step after it.
 */
export async function separateOwnerRole(loginAs: LoginAs, owner: string, pause: (step: string) => Promise<void>, journal: ConversionJournal = noJournal): Promise<OwnerSeparation> {
  const shape = await loginAs(owner, async (client) => {
    const { rows } = await client.query('SELECT oid::int = 10 AS bootstrap, rolsuper FROM pg_roles WHERE rolname = current_user');
    return rows[0] as { bootstrap: boolean; rolsuper: boolean };
  });
  if (!shape.rolsuper) return { change: 'none', leftovers: [] };
  if (!shape.bootstrap) {
    // A superuser owner that is not the bootstrap role: keep (or make) another superuser, demote it.
    await journal.begin('demoted');
    await pause('schema:owner-begun');
    const leftovers = await loginAs(owner, async (client) => {
      try {
        await client.query('BEGIN');
        await client.query('SET LOCAL search_path = pg_catalog, pg_temp');
        if (!(await otherSuperuser(client))) {
          const named = (await client.query("SELECT FROM pg_roles WHERE rolname = 'postgres'")).rowCount;
          await client.query(named ? 'ALTER ROLE postgres SUPERUSER LOGIN' : 'CREATE ROLE postgres SUPERUSER LOGIN');
        }
        await client.query(`ALTER ROLE ${client.escapeIdentifier(owner)} NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION BYPASSRLS`);
        const found = (await ownerLeftovers(client, maintenanceRole)).filter((what) => what !== "role postgres has SUPERUSER");
        await client.query('COMMIT');
        return found;
      } catch (error) {
        await client.query('ROLLBACK').catch(ignoreFailure('the error thrown below is the cause; a ROLLBACK on a broken connection has nothing to undo'));
        throw error;
      }
    });
    await journal.step('demoted');
    await pause('schema:owner-demoted');
    return { change: 'demoted', leftovers };
  }
  // The intent first: a run killed after the helper exists is finished by the next command on the tenant.
  await journal.begin('separated');
  await pause('schema:owner-begun');
  await loginAs(owner, (client) => client.query(`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${maintenanceRole}') THEN CREATE ROLE ${maintenanceRole} SUPERUSER LOGIN; END IF; END $$`));
  await journal.step('helper-made');
  await pause('schema:owner-helper');
  const leftovers = await loginAs(maintenanceRole, async (client) => {
    try {
      await client.query('BEGIN');
      // A superuser's session: nothing of the owner's resolves first (it is still the superuser, but what it wrote runs only here).
      await client.query('SET LOCAL search_path = pg_catalog, pg_temp');
      // Sessions logged in as the bootstrap role keep its superuser rights until they end, whatever
      // its name becomes (review M1): ended here (not this one, the helper's); a login after the
      // commit under the owner's name is the new role's.
      await client.query('SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usesysid = 10 AND pid <> pg_catalog.pg_backend_pid()');
      if ((await client.query("SELECT FROM pg_catalog.pg_roles WHERE rolname = 'postgres'")).rowCount) throw new Error(`cannot give the bootstrap superuser back its name: a role postgres exists already (make ${owner} no superuser by hand, README "Security")`);
      // The same password, as its verifier, server-side: no password or verifier passes through tenantctl.
      // Read BEFORE the rename: renaming a role clears an MD5 verifier (the role's name is its salt);
      // the new role has the old name, so the old MD5 verifier is valid for it (SCRAM's carry no name).
      await client.query(`DO $$
DECLARE o text := ${client.escapeLiteral(owner)}; v text := (SELECT rolpassword FROM pg_catalog.pg_authid WHERE oid = 10);
BEGIN
  EXECUTE format('ALTER ROLE %I RENAME TO postgres', o);
  EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION BYPASSRLS', o);
  IF v IS NOT NULL THEN EXECUTE format('ALTER ROLE %I PASSWORD %L', o, v); END IF;
  IF v IS NOT NULL AND (SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = o) IS NULL THEN
    RAISE EXCEPTION 'the new % role would have no password (the old one had one): nothing changed', o;
  END IF;
END $$`);
      await client.query('ALTER ROLE postgres PASSWORD NULL');
      await client.query(reassignFromBootstrap(client.escapeLiteral(owner)));
      const found = await ownerLeftovers(client, maintenanceRole);
      await client.query('COMMIT');
      return found;
    } catch (error) {
      await client.query('ROLLBACK').catch(ignoreFailure('the error thrown below is the cause; a ROLLBACK on a broken connection has nothing to undo'));
      throw error;
    }
  });
  await journal.step('separated');
  await pause('schema:owner-separated');
  return { change: 'separated', leftovers };
}

async function otherSuperuser(client: pg.ClientBase): Promise<boolean> {
  const { rowCount } = await client.query('SELECT FROM pg_roles WHERE rolsuper AND rolcanlogin AND rolname <> current_user');
  return (rowCount ?? 0) > 0;
}

/** Drops the helper superuser a separation made (also one a killed run left); run as the server's superuser. */
export async function dropMaintenanceRole(client: pg.ClientBase): Promise<void> {
  // On a superuser session whose search path is pg_catalog only (tenants/schema.ts).
  await client.query(`DROP ROLE IF EXISTS ${maintenanceRole}`);
}

/**
 * What the bootstrap role (oid 10) owns in the current database, outside the system's own schemas
 * and extensions, given to `owner` (a quoted literal): schemas, tables, views, sequences not owned by
 * a column (those follow their table), routines, standalone types, the database itself. REASSIGN
 * OWNED cannot do this: it refuses the bootstrap role (its catalogs are "required by the system").
 */
function reassignFromBootstrap(owner: string): string {
  const userSchema = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'";
  const notExtension = (catalog: string, oid: string) => `NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
  return `DO $$
DECLARE r record; o text := ${owner};
BEGIN
  FOR r IN SELECT n.nspname FROM pg_namespace n WHERE n.nspowner = 10 AND ${userSchema} AND ${notExtension('pg_namespace', 'n.oid')} LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, o);
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relowner = 10 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${userSchema} AND ${notExtension('pg_class', 'c.oid')} LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.rel, o);
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relowner = 10 AND c.relkind = 'S' AND ${userSchema}
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e')) LOOP
    EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', r.rel, o);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.proowner = 10 AND ${userSchema} AND ${notExtension('pg_proc', 'p.oid')} LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.fn, o);
  END LOOP;
  FOR r IN SELECT t.oid::regtype AS ty, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typowner = 10 AND t.typtype IN ('e', 'd', 'r') AND ${userSchema} AND ${notExtension('pg_type', 't.oid')} LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, r.ty, o);
  END LOOP;
  EXECUTE format('ALTER DATABASE %I OWNER TO %I', current_database(), o);
END $$`;
}
