import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';

export interface Migration {
  name: string;
  sql: string;
}

export class MigrationError extends Error {}

export const checksumOf = (sql: string) => createHash('sha256').update(sql).digest('hex');

export async function readMigrations(files: string[]): Promise<Migration[]> {
  return Promise.all(files.map(async (file) => ({ name: path.basename(file), sql: await readFile(file, 'utf8') })));
}

/**
 * Applies migrations in order, each in its own transaction, recording name and checksum in
 * `table`. Applied ones are skipped; one whose file changed after it was applied is an error
 * (silently re-running or ignoring it would leave databases that differ for the same version).
 * An advisory lock serialises concurrent tenantctl processes applying the same migrations.
 */
export async function applyMigrations(client: pg.ClientBase, table: string, migrations: Migration[], { asRole }: MigrationRole = {}): Promise<string[]> {
  if (!/^[a-z_]+$/.test(table)) throw new MigrationError(`bad migrations table name ${table}`);
  const known = await readApplied(client, table).catch(() => undefined);
  if (known && migrations.every((m) => known.get(m.name) === checksumOf(m.sql))) return []; // the common case: one query

  const applied: string[] = [];
  const role = asRole === undefined ? undefined : client.escapeIdentifier(asRole);
  const create = `CREATE TABLE IF NOT EXISTS ${table} (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
  // As the role, so that the record is the owner's like everything the migrations create.
  await client.query(role ? `BEGIN; SET LOCAL ROLE ${role}; ${create}; COMMIT` : create).catch(async (error) => {
    if (role) await client.query('ROLLBACK').catch(() => {});
    // Two processes creating the table at once: one wins, the other sees a unique violation.
    if (!/duplicate key|already exists/.test(String(error?.message))) throw error;
  });
  for (const migration of migrations) {
    const checksum = checksumOf(migration.sql);
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tenantctl.migrations.${table}`]);
      const { rows } = await client.query(`SELECT checksum FROM ${table} WHERE name = $1`, [migration.name]);
      if (rows.length > 0) {
        if (rows[0].checksum !== checksum) throw new MigrationError(`migration ${migration.name} changed after it was applied (checksum mismatch); add a new migration instead`);
        await client.query('COMMIT');
        continue;
      }
      if (asRole === undefined) await client.query(migration.sql);
      else await runAsRole(client, asRole, migration.sql);
      await client.query(`INSERT INTO ${table} (name, checksum) VALUES ($1, $2)`, [migration.name, checksum]);
      await client.query('COMMIT');
      applied.push(migration.name);
    } catch (error) {
      // The migration's own error is the cause; a ROLLBACK on a broken connection has nothing to undo.
      await client.query('ROLLBACK').catch(() => {});
      if (error instanceof MigrationError) throw error;
      throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
    }
  }
  return applied;
}

export interface MigrationRole {
  /**
   * Log in as a superuser, run each migration as this role (SET LOCAL ROLE): what a migration
   * creates is the role's, while the role itself is no superuser (issue 21). A migration that sets
   * another role's settings (crm's first: ALTER ROLE tenant_app SET search_path), which PostgreSQL
   * 15 allows a superuser or a CREATEROLE role only, may: the role holds CREATEROLE within the
   * migration's own transaction, granted and taken back in it, so no other session ever sees it.
   * This is about ownership, not a sandbox: the migrations are the template's own trusted files.
   */
  asRole?: string;
}

/** Runs `sql` as `role` inside the caller's transaction (see MigrationRole), returning to the session's own role after. */
async function runAsRole(client: pg.ClientBase, role: string, sql: string): Promise<void> {
  const name = client.escapeIdentifier(role);
  const { rows } = await client.query('SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1', [role]);
  if (rows.length === 0) throw new MigrationError(`role ${role} does not exist: the migrations run as it`);
  const lend = !rows[0].rolsuper && !rows[0].rolcreaterole;
  if (lend) await client.query(`ALTER ROLE ${name} CREATEROLE`);
  await client.query(`SET LOCAL ROLE ${name}`);
  await client.query(sql);
  // NONE: back to the session's role; LOCAL, so nothing outlives the transaction either way.
  await client.query('SET LOCAL ROLE NONE');
  if (lend) await client.query(`ALTER ROLE ${name} NOCREATEROLE`);
}

async function readApplied(client: pg.ClientBase, table: string): Promise<Map<string, string>> {
  const { rows } = await client.query(`SELECT name, checksum FROM ${table}`);
  return new Map(rows.map((r) => [r.name as string, r.checksum as string]));
}
