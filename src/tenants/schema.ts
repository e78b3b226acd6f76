import path from 'node:path';
import { readdirSync } from 'node:fs';
import type pg from 'pg';
import { TenantctlError } from '../common/errors.js';
import { applyMigrations, checksumOf, MigrationError, readMigrations, type Migration } from '../common/sql-migrations.js';
import { packageRoot } from '../common/paths.js';
import { withPostgresLogin, type ProbeOptions, type ServiceEndpoint } from '../stack/probes.js';

/**
 * The tenant schema: scripts/tenant-migrations/, applied in order, each once, recorded by name with
 * its checksum in the tenant database's tenant_schema_migrations. init-db.sql comes first under the
 * name it has always been recorded by (tenants provisioned before the directory existed have it on
 * record as "init-db.sql", checksum unchanged); the files after it are NNN_what.sql, in name order.
 */
export const tenantMigrationsDir = path.join(packageRoot, 'templates', 'crm', 'migrations');
const firstMigration = 'init-db.sql';
const laterMigration = /^\d{3,}_[a-z0-9_-]+\.sql$/;

export function tenantMigrationFiles(dir: string = tenantMigrationsDir): string[] {
  const names = readdirSync(dir).filter((name) => name.endsWith('.sql'));
  const odd = names.filter((name) => name !== firstMigration && !laterMigration.test(name));
  if (odd.length > 0) throw new TenantctlError('usage', `${dir}: ${odd.join(', ')} ${odd.length === 1 ? 'is' : 'are'} not named NNN_what.sql (e.g. 002_add_tags.sql); rename before applying`);
  // init-db.sql comes first where there is one (crm); another template's migrations may all be NNN_what.sql.
  const first = names.includes(firstMigration) ? [firstMigration] : [];
  return [...first, ...names.filter((name) => name !== firstMigration).sort()].map((name) => path.join(dir, name));
}

export interface MigrationPlan {
  /** On record with the same checksum. */
  applied: string[];
  /** Not on record yet, in the order they would be applied. */
  pending: string[];
  /** On record with another checksum: the file was edited after it was applied. */
  changed: string[];
}

/** What applying would do to this database; reads tenant_schema_migrations only. */
export async function planTenantMigrations(client: pg.ClientBase, migrations: Migration[]): Promise<MigrationPlan> {
  const exists = await client.query("SELECT to_regclass('public.tenant_schema_migrations') IS NOT NULL AS present");
  const recorded = new Map<string, string>();
  if (exists.rows[0].present) {
    for (const row of (await client.query('SELECT name, checksum FROM tenant_schema_migrations')).rows) recorded.set(row.name, row.checksum);
  }
  const plan: MigrationPlan = { applied: [], pending: [], changed: [] };
  for (const m of migrations) {
    const checksum = recorded.get(m.name);
    if (checksum === undefined) plan.pending.push(m.name);
    else if (checksum === checksumOf(m.sql)) plan.applied.push(m.name);
    else plan.changed.push(m.name);
  }
  return plan;
}

/** A migration file edited after it was applied: refused (exit 2), named, never re-run or skipped. */
export function changedMigrations(names: string[]): TenantctlError {
  return new TenantctlError('usage', `tenant migration ${names.join(', ')} changed after it was applied (checksum differs from the one on record); restore the file and add a new migration instead`);
}

/**
 * Applies the tenant schema over the published port as the owner role, recording each file with
 * its checksum in tenant_schema_migrations: a second apply is a no-op. Logging in is retried until
 * the deadline (the server may still be starting). With dryRun, only says what would be applied.
 */
export async function applyTenantSchema(
  db: ServiceEndpoint & { user?: string; database?: string },
  options: ProbeOptions,
  { dryRun = false, dir }: { dryRun?: boolean; dir?: string } = {},
): Promise<string[]> {
  const migrations = await readMigrations(tenantMigrationFiles(dir));
  // crm's target unless the template names another (x-tenantctl.migrations).
  return withPostgresLogin({ ...db, user: db.user ?? 'tenant_owner', database: db.database ?? 'tenant' }, options, async (client) => {
    const plan = await planTenantMigrations(client, migrations);
    if (plan.changed.length > 0) throw changedMigrations(plan.changed);
    if (dryRun) return plan.pending;
    try {
      return await applyMigrations(client, 'tenant_schema_migrations', migrations);
    } catch (error) {
      if (error instanceof MigrationError && /changed after it was applied/.test(error.message)) throw changedMigrations([/migration (\S+)/.exec(error.message)?.[1] ?? '?']);
      throw new TenantctlError('internal', `tenant schema: ${(error as Error).message}`, { cause: error });
    }
  });
}
