import type pg from 'pg';
import { checksumOf, createMigrationsTable, type Migration } from '../common/sql-migrations.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// A session logged in as the server's superuser runs whatever an owner-made trigger, view, function
// or database setting puts in its way with superuser rights, so tenantctl opens one only where the
// owner cannot have put anything yet: a fresh database, before any migration (issue 21 review C1).
// There, and only there, the first migration goes in: as the owner (SET LOCAL ROLE), so the owner
// owns what it creates, except its statements that set another role's settings (crm's
// `ALTER ROLE tenant_app SET search_path = crm, public`), which PostgreSQL lets only a superuser (or
// a CREATEROLE role) do: those run after the file, back as the superuser, in the same transaction.
// Every later migration, and all bookkeeping of tenant_schema_migrations, runs in a session logged
// in as the owner (tenants/schema.ts), where nothing the owner wrote can gain more than the owner has.

/** Server settings for every superuser login: nothing the owner named resolves first (sent at login, set again first thing). */
export const superuserLoginOptions = '-c search_path=pg_catalog,pg_temp';
export const superuserSearchPath = 'SET search_path = pg_catalog, pg_temp';

const roleSetting = /^\s*ALTER\s+ROLE\s+("[^"]+"|[a-z_][a-z0-9_]*)\s+SET\s+[^;]*;[ \t]*$/gim;

/** The file's statements that set a role's settings (whole lines), and the file without them. */
export function splitRoleSettings(sql: string): { owner: string; superuser: string[] } {
  const superuser = [...sql.matchAll(roleSetting)].map((m) => m[0].trim());
  return { owner: sql.replace(roleSetting, ''), superuser };
}

/**
 * On a superuser session (search path already pg_catalog, pg_temp): applies `first` and records it,
 * if and only if the database is fresh: no tenant_schema_migrations, nothing in it owned by `owner`
 * (pg_shdepend: every object a non-bootstrap role owns), no database-wide settings. Returns whether
 * it did; a database that is not fresh is left to the owner's session.
 */
export async function applyFirstMigrationOnFreshDatabase(client: pg.ClientBase, owner: string, first: Migration): Promise<boolean> {
  const role = client.escapeIdentifier(owner);
  const { owner: asOwner, superuser } = splitRoleSettings(first.sql);
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('tenantctl.migrations.tenant_schema_migrations'))");
    const { rows } = await client.query(
      `SELECT pg_catalog.to_regclass('public.tenant_schema_migrations') IS NULL
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_shdepend s JOIN pg_catalog.pg_roles r ON r.oid = s.refobjid
                          WHERE r.rolname = $1 AND s.deptype = 'o' AND s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
          AS fresh`,
      [owner],
    );
    if (!rows[0].fresh) {
      await client.query('ROLLBACK');
      return false;
    }
    // The file as the owner, with the default search path it was written for (nothing of the owner's exists to resolve to).
    await client.query(`SET LOCAL ROLE ${role}`);
    await client.query('SET LOCAL search_path = "$user", public');
    await client.query(asOwner);
    await client.query('SET LOCAL ROLE NONE');
    await client.query(superuserSearchPath.replace('SET', 'SET LOCAL'));
    for (const statement of superuser) await client.query(statement);
    await client.query(`SET LOCAL ROLE ${role}`);
    await client.query(createMigrationsTable('public.tenant_schema_migrations'));
    await client.query('INSERT INTO public.tenant_schema_migrations (name, checksum) VALUES ($1, $2)', [first.name, checksumOf(first.sql)]);
    await client.query('COMMIT');
    return true;
  } catch (error) {
    await client.query('ROLLBACK').catch(ignoreFailure('the error thrown below is the cause; a ROLLBACK on a broken connection has nothing to undo'));
    throw error;
  }
}
