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
export const psqlRestoreArgv = (container: string): string[] =>
  ['docker', 'exec', '-i', container, 'psql', '--username', adminUser, '--dbname', adminDatabase, '--no-password', '--no-psqlrc', '--quiet', '--set', 'ON_ERROR_STOP=1', '--output', '/dev/null'];

/**
 * What runs before the dump in the restore's transaction: the schema this tenantctl just made in
 * the empty database goes, so the dump lays down its own (whose migrations' record then says which
 * of this tenantctl's newer migrations still apply). Roles are the cluster's and stay: the
 * migrations made the gateway's and the agent's, which the dump's grants name.
 */
export const restorePrologue = [
  'BEGIN;',
  'DROP SCHEMA IF EXISTS public CASCADE;',
  // As initdb makes it (PostgreSQL 15): the dump only states how its ACL differs from that.
  'CREATE SCHEMA public AUTHORIZATION pg_database_owner;',
  'GRANT USAGE ON SCHEMA public TO PUBLIC;',
  '',
].join('\n');

/** A dump pg_dump finished writes this last: a cut-off one lacks it. */
export const dumpCompleteMarker = '-- PostgreSQL database dump complete';
