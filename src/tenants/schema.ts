import path from 'node:path';
import { readdirSync } from 'node:fs';
import type pg from 'pg';
import { TenantctlError } from '../common/errors.js';
import { noPause, type PausePoint } from '../common/pause-points.js';
import { applyMigrations, checksumOf, MigrationError, readMigrations, type Migration } from '../common/sql-migrations.js';
import { packageRoot } from '../common/paths.js';
import { withPostgresLogin, type ProbeOptions } from '../stack/probes.js';
import { runningContainerOf } from '../stack/tenant-ports.js';
import { openSocketRelay } from '../engine/socket-relay.js';
import type { DockerHost } from '../engine/docker-host.js';
import { dropMaintenanceRole, maintenanceRole, separateOwnerRole, type LoginAs, type OwnerChange } from './owner-role.js';

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

/** Where the tenant schema goes: the database server's container, and the role that owns what the migrations create. */
export interface TenantSchemaTarget {
  /** The engine holding the tenant's containers (a swarm tenant's node). */
  host: DockerHost;
  project: string;
  /** The compose service of the PostgreSQL server (x-tenantctl.migrations.service). */
  service: string;
  /** The owner role (x-tenantctl.migrations.user); crm's tenant_owner unless the template names another. */
  owner?: string;
  database?: string;
  /** The template says its owner must stay a superuser (x-tenantctl.migrations.superuserOwner): not converted. */
  superuserOwner?: boolean;
}

// The server's local socket in tenantctl's postgres image (and the official one's: /var/run is /run).
const serverSocket = '/run/postgresql/.s.PGSQL.5432';

/**
 * Applies the tenant schema, recording each file with its checksum in tenant_schema_migrations: a
 * second apply is a no-op. Logged in as the server's superuser over its local socket (through the
 * engine: engine/socket-relay.ts), each migration runs as the owner role (SET ROLE), so the owner
 * needs no superuser and owns what the migrations create (issue 21). Before that, an owner that is
 * a superuser (a crm tenant provisioned before) is made none (tenants/owner-role.ts): `migrate`
 * converts an existing tenant. Logging in is retried until the deadline (the server may still be
 * starting). With dryRun, only says what would be applied and changes nothing.
 */
export async function applyTenantSchema(
  target: TenantSchemaTarget,
  options: ProbeOptions,
  { dryRun = false, dir, pause = noPause }: { dryRun?: boolean; dir?: string; pause?: PausePoint } = {},
): Promise<{ migrations: string[]; ownerChange: OwnerChange }> {
  const migrations = await readMigrations(tenantMigrationFiles(dir));
  // crm's target unless the template names another (x-tenantctl.migrations).
  const owner = target.owner ?? 'tenant_owner';
  const database = target.database ?? 'tenant';
  const container = await runningContainerOf(target.host, target.project, target.service, options.signal);
  if (!container) throw new TenantctlError('conflict', `${target.project} has no running ${target.service} container for its schema (tenantctl status)`);
  const relay = await openSocketRelay(target.host, container, serverSocket, { signal: options.signal });
  try {
    const loginAs: LoginAs = (user, use) => withPostgresLogin({ host: relay.dir, port: 5432, password: '', user, database }, options, use);
    if (dryRun) {
      const plan = await loginAs(owner, (client) => planTenantMigrations(client, migrations));
      if (plan.changed.length > 0) throw changedMigrations(plan.changed);
      return { migrations: plan.pending, ownerChange: 'none' };
    }
    const ownerChange = target.superuserOwner ? 'none' : await separateOwnerRole(loginAs, owner, pause);
    const superuser = await loginAs(owner, async (client) => {
      const { rows } = await client.query('SELECT rolname FROM pg_roles WHERE rolsuper AND rolcanlogin AND rolname <> $1 ORDER BY oid LIMIT 1', [maintenanceRole]);
      return rows[0]?.rolname as string | undefined;
    });
    if (!superuser) throw new TenantctlError('conflict', `the PostgreSQL server of ${target.project} has no superuser to apply the schema as (its owner ${owner} is none, as it should be; README "Security")`);
    return await loginAs(superuser, async (client) => {
      await dropMaintenanceRole(client);
      const plan = await planTenantMigrations(client, migrations);
      if (plan.changed.length > 0) throw changedMigrations(plan.changed);
      try {
        return { migrations: await applyMigrations(client, 'tenant_schema_migrations', migrations, { asRole: owner }), ownerChange };
      } catch (error) {
        if (error instanceof MigrationError && /changed after it was applied/.test(error.message)) throw changedMigrations([/migration (\S+)/.exec(error.message)?.[1] ?? '?']);
        throw new TenantctlError('internal', `tenant schema: ${(error as Error).message}`, { cause: error });
      }
    });
  } finally {
    await relay.close();
  }
}
