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
import { waitForFinalServer } from './final-server.js';
import { ownerLeftovers } from './owner-leftovers.js';
import { applyFirstMigrationOnFreshDatabase, superuserLoginOptions, superuserSearchPath } from './fresh-schema.js';
import { dropMaintenanceRole, maintenanceRole, separateOwnerRole, type ConversionJournal, type LoginAs, type OwnerChange, type OwnerSeparation } from './owner-role.js';

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
 * second apply is a no-op. Over the server's local socket (through the engine:
 * engine/socket-relay.ts), which trusts any role. The migrations and every read or write of
 * tenant_schema_migrations run in a session logged in AS THE OWNER, so the owner needs no superuser,
 * owns what they create, and nothing it wrote (a trigger on that table, a view in its place, a
 * function a migration calls, a database setting) ever runs with more than its own rights (issue 21
 * review C1). A superuser session is opened only where the owner cannot have put anything in its
 * way: the first migration on a fresh database (tenants/fresh-schema.ts), the one-time conversion of
 * an owner that is still a superuser (tenants/owner-role.ts: `migrate` converts an existing tenant;
 * the owner is the superuser there), and dropping the helper role a conversion made; each such
 * session searches pg_catalog only. Logging in is retried until the deadline (the server may still
 * be starting). With dryRun, only says what would be applied and changes nothing.
 */
export async function applyTenantSchema(
  target: TenantSchemaTarget,
  options: ProbeOptions,
  { dryRun = false, dir, pause = noPause, journal }: { dryRun?: boolean; dir?: string; pause?: PausePoint; journal?: SchemaJournal } = {},
): Promise<{ migrations: string[]; ownerChange: OwnerChange; ownerLeftovers: string[] }> {
  const migrations = await readMigrations(tenantMigrationFiles(dir));
  // crm's target unless the template names another (x-tenantctl.migrations).
  const owner = target.owner ?? 'tenant_owner';
  return withSchemaSessions(target, options, async ({ loginAs, asSuperuser }) => {
    if (dryRun) {
      const { plan, shape } = await loginAs(owner, async (client) => ({
        plan: await planTenantMigrations(client, migrations),
        shape: (await client.query('SELECT oid::int = 10 AS bootstrap, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user')).rows[0] as { bootstrap: boolean; rolsuper: boolean },
      }));
      if (plan.changed.length > 0) throw changedMigrations(plan.changed);
      // The conversion a real run would do first (review L2).
      const ownerChange: OwnerChange = target.superuserOwner || !shape.rolsuper ? 'none' : shape.bootstrap ? 'separated' : 'demoted';
      return { migrations: plan.pending, ownerChange, ownerLeftovers: [] };
    }
    const { change: ownerChange, leftovers: ownerLeftovers } = target.superuserOwner ? { change: 'none' as const, leftovers: [] } : await separateOwnerRole(loginAs, owner, pause, journal);
    const applied: string[] = [];
    if (!target.superuserOwner) {
      const { superuser, helperLeft, superuserOwner } = await loginAs(owner, async (client) => {
        const { rows } = await client.query('SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper AND rolcanlogin AND rolname <> $1 AND rolname <> current_user ORDER BY oid LIMIT 1', [maintenanceRole]);
        const helper = await client.query('SELECT FROM pg_catalog.pg_roles WHERE rolname = $1', [maintenanceRole]);
        const self = await client.query('SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user');
        return { superuser: rows[0]?.rolname as string | undefined, helperLeft: (helper.rowCount ?? 0) > 0, superuserOwner: self.rows[0]?.rolsuper === true };
      });
      if (superuserOwner) throw new TenantctlError('internal', `tenant schema: ${owner} is still a superuser after its conversion`);
      const first = migrations[0];
      const fresh = first !== undefined && await loginAs(owner, async (client) => (await planTenantMigrations(client, migrations)).applied.length === 0);
      if (helperLeft || fresh) {
        // Only then is a superuser needed: a tenant past its first migration with no helper left migrates without one.
        if (!superuser) throw new TenantctlError('conflict', `the PostgreSQL server of ${target.project} has no superuser to provision the schema as (its owner ${owner} is none, as it should be; README "Security")`);
        await asSuperuser(superuser, async (client) => {
          await dropMaintenanceRole(client);
          if (first && fresh && await applyFirstMigrationOnFreshDatabase(client, owner, first)) applied.push(first.name);
        });
      }
    }
    // The conversion is whole (the helper gone): its journal entry is closed before any migration runs.
    if (ownerChange !== 'none') await journal?.finish({ change: ownerChange, leftovers: ownerLeftovers });
    // Everything else as the owner itself (a superuserOwner template's owner is its superuser anyway).
    return await loginAs(owner, async (client) => {
      const plan = await planTenantMigrations(client, migrations);
      if (plan.changed.length > 0) throw changedMigrations(plan.changed);
      try {
        return { migrations: [...applied, ...await applyMigrations(client, 'tenant_schema_migrations', migrations)], ownerChange, ownerLeftovers };
      } catch (error) {
        if (error instanceof MigrationError && /changed after it was applied/.test(error.message)) throw changedMigrations([/migration (\S+)/.exec(error.message)?.[1] ?? '?']);
        throw new TenantctlError('internal', `tenant schema: ${(error as Error).message}`, { cause: error });
      }
    });
  });
}

/** A conversion's journal as applyTenantSchema uses it: `finish` once the conversion is whole (its helper role dropped). */
export interface SchemaJournal extends ConversionJournal {
  finish(separation: OwnerSeparation): Promise<void>;
}

interface SchemaSessions {
  /** A session logged in as `user` (the local socket trusts any role). */
  loginAs: LoginAs;
  /** A superuser's session: pg_catalog first and only, from the login on (sent in the startup packet, set again). */
  asSuperuser: LoginAs;
}

/** Sessions on the tenant's server over its local socket (a relay through the engine), once the final server is up; the relay closed after `use`. */
async function withSchemaSessions<T>(target: TenantSchemaTarget, options: ProbeOptions, use: (sessions: SchemaSessions) => Promise<T>): Promise<T> {
  const owner = target.owner ?? 'tenant_owner';
  const database = target.database ?? 'tenant';
  const container = await runningContainerOf(target.host, target.project, target.service, options.signal);
  if (!container) throw new TenantctlError('conflict', `${target.project} has no running ${target.service} container for its schema (tenantctl status)`);
  const relay = await openSocketRelay(target.host, container, serverSocket, { signal: options.signal });
  try {
    const loginAs: LoginAs = (user, run) => withPostgresLogin({ host: relay.dir, port: 5432, password: '', user, database }, options, run);
    const asSuperuser: LoginAs = (user, run) => withPostgresLogin({ host: relay.dir, port: 5432, password: '', user, database, options: superuserLoginOptions }, options, async (client) => {
      await client.query(superuserSearchPath);
      return run(client);
    });
    await waitForFinalServer(relay.dir, owner, database, options);
    return await use({ loginAs, asSuperuser });
  } finally {
    await relay.close();
  }
}

/**
 * The owner conversion alone, finished from wherever a killed run left it (each of its steps is
 * idempotent, the separation one transaction), and the helper role dropped: what settles an
 * interrupted 'owner-conversion' (tenants/owner-conversion.ts). No migration is applied. The same
 * pause points as a first run: a settlement can be killed too.
 */
export async function finishOwnerConversion(target: TenantSchemaTarget, options: ProbeOptions, journal: ConversionJournal, pause: PausePoint = noPause): Promise<OwnerSeparation> {
  const owner = target.owner ?? 'tenant_owner';
  return withSchemaSessions(target, options, async ({ loginAs, asSuperuser }) => {
    const separation = await separateOwnerRole(loginAs, owner, pause, journal);
    // Converted already (the killed run's commit stood): what the old superuser left is read again for the audit row.
    const found = separation.change === 'none'
      ? { ...separation, leftovers: await leftoversAfterConversion({ loginAs, asSuperuser }, owner) }
      : separation;
    await dropHelperRole({ loginAs, asSuperuser }, owner, target.project);
    return found;
  });
}

/** Undoes a conversion that had not committed: only its helper role can exist; dropped (as any other superuser, the owner included). */
export async function undoOwnerConversion(target: TenantSchemaTarget, options: ProbeOptions): Promise<void> {
  await withSchemaSessions(target, options, (sessions) => dropHelperRole(sessions, target.owner ?? 'tenant_owner', target.project));
}

/** The leftovers (tenants/owner-leftovers.ts) of a conversion that committed earlier, read as a superuser (pg_file_settings is theirs); none readable without one. */
async function leftoversAfterConversion({ loginAs, asSuperuser }: SchemaSessions, owner: string): Promise<string[]> {
  const superuser = await loginAs(owner, async (client) => (await client.query('SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper AND rolcanlogin ORDER BY oid LIMIT 1')).rows[0]?.rolname as string | undefined);
  if (!superuser) return [];
  return (await asSuperuser(superuser, (client) => ownerLeftovers(client, maintenanceRole))).filter((what) => what !== 'role postgres has SUPERUSER');
}

async function dropHelperRole({ loginAs, asSuperuser }: SchemaSessions, owner: string, project: string): Promise<void> {
  const { superuser, helperLeft } = await loginAs(owner, async (client) => {
    const { rows } = await client.query('SELECT rolname FROM pg_catalog.pg_roles WHERE rolsuper AND rolcanlogin AND rolname <> $1 ORDER BY oid LIMIT 1', [maintenanceRole]);
    const helper = await client.query('SELECT FROM pg_catalog.pg_roles WHERE rolname = $1', [maintenanceRole]);
    return { superuser: rows[0]?.rolname as string | undefined, helperLeft: (helper.rowCount ?? 0) > 0 };
  });
  if (!helperLeft) return;
  if (!superuser) throw new TenantctlError('conflict', `the PostgreSQL server of ${project} has no superuser to drop the helper role ${maintenanceRole} as (README "Security")`);
  await asSuperuser(superuser, (client) => dropMaintenanceRole(client));
}

/** Whether the owner role is (still) a superuser: what says if a conversion committed, whatever its journal has. */
export async function ownerIsSuperuser(target: TenantSchemaTarget, options: ProbeOptions): Promise<boolean> {
  const owner = target.owner ?? 'tenant_owner';
  return withSchemaSessions(target, options, ({ loginAs }) => loginAs(owner, async (client) => {
    const { rows } = await client.query('SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1', [owner]);
    return rows[0]?.rolsuper === true;
  }));
}
