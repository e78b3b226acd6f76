import type { Config } from '../config/schema.js';
import type { DockerHost } from '../engine/docker-host.js';
import { TenantctlError } from '../common/errors.js';

// The admin database as SQL, taken and given back inside its own container: pg_dump and psql of the
// container's own PostgreSQL (the versions match), over its local socket, where the image trusts
// local connections (images/postgres/Dockerfile), so no password is handed to either. Only the local
// admin database (docker-compose.local.yml) is reached this way; a managed one
// (adminDatabase.url) is its provider's to back up.

const adminDbService = 'admin-db';
const adminUser = 'tenantctl';
const adminDatabase = 'tenantctl_admin';

/** The running container of the local admin database, or a clear refusal. */
export async function adminDbContainer(config: Config, host: DockerHost, signal?: AbortSignal): Promise<string> {
  // Found by its compose labels even when adminDatabase.url is set: the agent dials the local one by URL, with its own login.
  const out = await host.docker(['ps', '--filter', `label=com.docker.compose.project=${config.adminDatabase.localProject}`, '--filter', `label=com.docker.compose.service=${adminDbService}`, '--format', '{{.ID}}'], { signal });
  const id = out.split('\n').map((l) => l.trim()).find(Boolean);
  if (!id && config.adminDatabase.url) {
    throw new TenantctlError('usage', `no local admin database (compose project ${config.adminDatabase.localProject}) runs on ${host.id}, and adminDatabase.url names another: back that one up with its provider's tools; admin-backup and recover work with the local admin database`);
  }
  if (!id) throw new TenantctlError('adminDb', `the local admin database (compose project ${config.adminDatabase.localProject}) has no running container on ${host.id}`);
  return id;
}

/** `docker exec` argv of pg_dump writing the whole admin database as SQL to stdout (no owner or grant is lost: same server). */
export const pgDumpArgv = (container: string): string[] =>
  ['docker', 'exec', container, 'pg_dump', '--username', adminUser, '--dbname', adminDatabase, '--no-password', '--quote-all-identifiers'];

/**
 * `docker exec -i` argv of psql applying SQL from stdin, stopping at the first error. The transaction
 * is the prologue's BEGIN and the trailer's COMMIT (not --single-transaction, which would commit
 * whatever arrived before a cut-off stream's end): a dump cut short commits nothing.
 */
export const psqlRestoreArgv = (container: string, user: string = restoreRole): string[] =>
  ['docker', 'exec', '-i', container, 'psql', '--username', user, '--dbname', adminDatabase, '--no-password', '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=1', '--output', '/dev/null'];

/** psql as the admin database's owner (its superuser): tenantctl's own fixed statements only, never the snapshot's. */
export const psqlOwnerArgv = (container: string): string[] => psqlRestoreArgv(container, adminUser);

/**
 * The role the snapshot's SQL runs as (admin-restore.ts): a login of its own, no superuser, no
 * member of any role, owning nothing but the empty schema the dump is laid into. What a forged
 * dump could do beyond the guard is then what that role may do, not what the superuser may.
 */
export const restoreRole = 'tenantctl_admin_restore';

/**
 * Run as the owner before the restore (autocommit): the restore role made (or checked: a role of
 * that name with more than a plain login is refused), allowed to turn the dump's triggers off in
 * its own transaction (session_replication_role; PostgreSQL 15's GRANT SET ON PARAMETER), and the
 * schema this tenantctl just made in the empty database replaced by an empty one it owns (the
 * dump's migration record then says which of this tenantctl's newer migrations still apply; a run
 * killed after this finds the database empty and starts over). Roles are the cluster's and stay:
 * the migrations made the gateway's and the agent's, which the dump's grants name.
 */
export const restoreSetup = [
  'DO $$',
  'BEGIN',
  `  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${restoreRole}') THEN`,
  `    CREATE ROLE ${restoreRole} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 2;`,
  '  END IF;',
  `  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${restoreRole}' AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls))`,
  `     OR EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '${restoreRole}') THEN`,
  `    RAISE EXCEPTION 'role ${restoreRole} has more than a plain login (an attribute or a membership): drop it, tenantctl makes it';`,
  '  END IF;',
  'END $$;',
  `ALTER ROLE ${restoreRole} LOGIN;`,
  `GRANT SET ON PARAMETER session_replication_role TO ${restoreRole};`,
  'DROP SCHEMA IF EXISTS public CASCADE;',
  `CREATE SCHEMA public AUTHORIZATION ${restoreRole};`,
  'GRANT USAGE ON SCHEMA public TO PUBLIC;',
  '',
].join('\n');

/** What runs before the dump in the restore's transaction (as the restore role). */
export const restorePrologue = ['BEGIN;', ''].join('\n');

/**
 * Run as the owner after the restore committed (and by a recover run again after a kill, before it
 * goes on: idempotent): everything the restore role made given to the admin database's owner, the
 * schema back to pg_database_owner as initdb makes it, and the role's login taken away until the next restore.
 */
export const restoreOwnership = [
  'DO $$',
  'BEGIN',
  `  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${restoreRole}') THEN`,
  `    REASSIGN OWNED BY ${restoreRole} TO ${adminUser};`,
  `    ALTER ROLE ${restoreRole} NOLOGIN;`,
  '  END IF;',
  'END $$;',
  'ALTER SCHEMA public OWNER TO pg_database_owner;',
  '',
].join('\n');

/** The admin database's owner, whose OWNER TO lines the restore passes on as comments (dump-guard.ts). */
export const adminOwner = adminUser;

/** A dump pg_dump finished writes this last: a cut-off one lacks it. */
export const dumpCompleteMarker = '-- PostgreSQL database dump complete';
