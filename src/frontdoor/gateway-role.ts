import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { TenantctlError } from '../common/errors.js';
import { formatEnvFile, parseEnvFile } from '../common/env-file.js';
import { ensurePrivateDir, writePrivateFile } from '../common/private-files.js';
import type { AdminDb } from '../admin-db/database.js';
import { scramSha256Verifier } from '../admin-db/scram-verifier.js';
import { generateSecret, secretPattern } from '../secrets/generate.js';

// The gateway's own login to the admin database (migration 014): tenantctl_gateway, not a
// superuser, allowed only what the gateway does. Its password is generated once into
// <stateDir>/gateway-db.env (0600, like admin-db.env) and set on the role by every `frontdoor init`
// (a SCRAM verifier: the password itself never reaches the server). The gateway gets its URL in its
// 0600 configuration file, mounted read-only and read as root before it drops to nobody: never on a
// command line, never in an environment its children inherit.

export const gatewayRole = 'tenantctl_gateway';
const passwordKey = 'TENANTCTL_GATEWAY_DB_PASSWORD';

async function gatewayPassword(stateDir: string): Promise<string> {
  const file = path.join(stateDir, 'gateway-db.env');
  await ensurePrivateDir(stateDir);
  try {
    await writePrivateFile(file, formatEnvFile({ [passwordKey]: generateSecret() }, 'tenantctl front door gateway login to the admin database; keep private'), { exclusive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another process created it first: use theirs
  }
  const password = parseEnvFile(await readFile(file, 'utf8'))[passwordKey];
  if (!password || !secretPattern.test(password)) throw new TenantctlError('adminDb', `${file} has no valid ${passwordKey}; remove it to generate a new one`);
  return password;
}

/**
 * Sets the gateway role's password and returns the URL the gateway connects with: the admin
 * database's own URL with the gateway's login in place of the owner's.
 */
export async function gatewayDatabaseUrl(db: AdminDb, stateDir: string): Promise<string> {
  const ownerUrl = db.pool.options.connectionString;
  if (!ownerUrl) throw new TenantctlError('internal', 'the admin database connection has no URL');
  // A role of that name made by someone else (roles are per cluster) may carry more than the
  // grants of migration 014: any attribute or membership beyond a plain login is refused.
  const { rows } = await db.pool.query(
    `SELECT array_remove(ARRAY[
              CASE WHEN rolsuper THEN 'SUPERUSER' END, CASE WHEN rolcreaterole THEN 'CREATEROLE' END,
              CASE WHEN rolcreatedb THEN 'CREATEDB' END, CASE WHEN rolreplication THEN 'REPLICATION' END,
              CASE WHEN rolbypassrls THEN 'BYPASSRLS' END,
              CASE WHEN EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) THEN 'membership of another role' END,
              CASE WHEN has_schema_privilege(r.oid, 'public', 'CREATE') THEN 'CREATE on schema public' END], NULL) AS extra,
            has_column_privilege(r.oid, 'admin_customers', 'suspension_reason', 'SELECT') AS reads_suspension
       FROM pg_roles r WHERE rolname = $1`,
    [gatewayRole],
  ).catch(db.unreachable);
  if (rows.length === 0) {
    throw new TenantctlError('adminDb', `the admin database has no role ${gatewayRole} (its user may not create roles): create it as a login role without superuser and run tenantctl frontdoor init again (scripts/admin-migrations/014_gateway_role.sql lists its grants)`);
  }
  const extra = rows[0].extra as string[];
  if (extra.length > 0) throw new TenantctlError('adminDb', `role ${gatewayRole} has more than the gateway may hold (${extra.join(', ')}): the gateway will not connect with it; remove them (ALTER ROLE ${gatewayRole} NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS; REVOKE CREATE ON SCHEMA public FROM PUBLIC) and run tenantctl frontdoor init again`);
  // A role made by hand from migration 014's grants lacks 019's: the gateway would fail every key check.
  if (rows[0].reads_suspension !== true) throw new TenantctlError('adminDb', `role ${gatewayRole} may not read admin_customers.suspension_reason (migration 019), which the gateway reads to name a suspension: GRANT SELECT (suspension_reason) ON admin_customers TO ${gatewayRole}; and run tenantctl frontdoor init again`);
  const password = await gatewayPassword(stateDir);
  // A verifier is base64 and '$' ':' only, so it is a safe literal (ALTER ROLE takes no parameters).
  const verifier = scramSha256Verifier(password);
  if (!/^[A-Za-z0-9+/=$:-]+$/.test(verifier)) throw new TenantctlError('internal', 'unexpected characters in a SCRAM verifier');
  await db.pool.query(`ALTER ROLE ${gatewayRole} PASSWORD '${verifier}'`).catch(db.unreachable);
  const url = new URL(ownerUrl);
  url.username = gatewayRole;
  url.password = password;
  return url.toString();
}
