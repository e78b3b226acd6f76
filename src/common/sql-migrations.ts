import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { ignoreFailure } from './ignore-failure.js';

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
export async function applyMigrations(client: pg.ClientBase, table: string, migrations: Migration[]): Promise<string[]> {
  if (!/^[a-z_]+$/.test(table)) throw new MigrationError(`bad migrations table name ${table}`);
  const known = await readApplied(client, table).catch(ignoreFailure('no table yet, or no answer: the locked path below creates it or reports the failure'));
  if (known && migrations.every((m) => known.get(m.name) === checksumOf(m.sql))) return []; // the common case: one query

  const applied: string[] = [];
  await client.query(createMigrationsTable(table)).catch(async (error) => {
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
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${table} (name, checksum) VALUES ($1, $2)`, [migration.name, checksum]);
      await client.query('COMMIT');
      applied.push(migration.name);
    } catch (error) {
      await client.query('ROLLBACK').catch(ignoreFailure("the migration's own error is the cause; a ROLLBACK on a broken connection has nothing to undo"));
      if (error instanceof MigrationError) throw error;
      throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
    }
  }
  return applied;
}

/** The record of applied migrations (`table` already checked to be a plain name). */
export const createMigrationsTable = (table: string) => `CREATE TABLE IF NOT EXISTS ${table} (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;

async function readApplied(client: pg.ClientBase, table: string): Promise<Map<string, string>> {
  const { rows } = await client.query(`SELECT name, checksum FROM ${table}`);
  return new Map(rows.map((r) => [r.name as string, r.checksum as string]));
}
