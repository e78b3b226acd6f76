import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { TenantctlError } from '../common/errors.js';
import { formatEnvFile, parseEnvFile } from '../common/env-file.js';
import { ensurePrivateDir, writePrivateFile } from '../common/private-files.js';
import { generateSecret, secretPattern } from './generate.js';
import type { AdminDb } from '../admin-db/database.js';
import { scramSha256Verifier } from '../admin-db/scram-verifier.js';

// A long-running part's own login to the admin database (the agent's tenantctl_agent, migration
// 017; the same shape as the gateway's, src/frontdoor/gateway-role.ts): a role made by a migration
// without a password, whose password is generated once into <stateDir>/<file> (0600) and set on the
// role as a SCRAM verifier (the password itself never reaches the server) each time the part is
// set up. The part gets the URL in a 0600 file of its own: never on a command line, never in an
// environment its children inherit.

export interface LoginRole {
  role: string;
  /** The password file under the state dir, e.g. agent-db.env. */
  file: string;
  passwordKey: string;
  /** The file's first line: what it is. */
  header: string;
  /** The migration that creates the role and lists its grants, for error messages. */
  migration: string;
  /** The command that sets it up, for error messages ("tenantctl agent up"). */
  setupCommand: string;
  /**
   * Column reads a later migration granted: a role made by hand from the first migration's grants
   * lacks them, and the part would fail at its first query; refused here with the GRANT to run.
   */
  requiredReads?: Array<{ table: string; column: string; migration: string; why: string }>;
  /** Functions a later migration let it run (granted only if the role existed then), checked likewise. */
  requiredFunctions?: Array<{ signature: string; migration: string; why: string }>;
}

async function rolePassword(stateDir: string, login: LoginRole): Promise<string> {
  const file = path.join(stateDir, login.file);
  await ensurePrivateDir(stateDir);
  try {
    await writePrivateFile(file, formatEnvFile({ [login.passwordKey]: generateSecret() }, login.header), { exclusive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // another process created it first: use theirs
  }
  const password = parseEnvFile(await readFile(file, 'utf8'))[login.passwordKey];
  if (!password || !secretPattern.test(password)) throw new TenantctlError('adminDb', `${file} has no valid ${login.passwordKey}; remove it to generate a new one`);
  return password;
}

/** Sets the role's password and returns the URL the part connects with (the owner's URL with the role's login). */
export async function loginRoleUrl(db: AdminDb, stateDir: string, login: LoginRole): Promise<string> {
  const ownerUrl = db.pool.options.connectionString;
  if (!ownerUrl) throw new TenantctlError('internal', 'the admin database connection has no URL');
  const { role } = login;
  // A role of that name made by someone else (roles are per cluster) may carry more than the
  // migration's grants: any attribute or membership beyond a plain login is refused.
  const { rows } = await db.pool.query(
    `SELECT array_remove(ARRAY[
              CASE WHEN rolsuper THEN 'SUPERUSER' END, CASE WHEN rolcreaterole THEN 'CREATEROLE' END,
              CASE WHEN rolcreatedb THEN 'CREATEDB' END, CASE WHEN rolreplication THEN 'REPLICATION' END,
              CASE WHEN rolbypassrls THEN 'BYPASSRLS' END,
              CASE WHEN EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid) THEN 'membership of another role' END,
              CASE WHEN has_schema_privilege(r.oid, 'public', 'CREATE') THEN 'CREATE on schema public' END], NULL) AS extra
       FROM pg_roles r WHERE rolname = $1`,
    [role],
  ).catch(db.unreachable);
  if (rows.length === 0) {
    throw new TenantctlError('adminDb', `the admin database has no role ${role} (its user may not create roles): create it as a login role without superuser and run ${login.setupCommand} again (scripts/admin-migrations/${login.migration} lists its grants)`);
  }
  const extra = rows[0].extra as string[];
  if (extra.length > 0) throw new TenantctlError('adminDb', `role ${role} has more than it may hold (${extra.join(', ')}): remove them (ALTER ROLE ${role} NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS; REVOKE CREATE ON SCHEMA public FROM PUBLIC) and run ${login.setupCommand} again`);
  for (const need of login.requiredReads ?? []) {
    const granted = await db.pool.query('SELECT has_column_privilege($1, $2, $3, \'SELECT\') AS ok', [role, need.table, need.column]).catch(db.unreachable);
    if (granted.rows[0]?.ok !== true) {
      throw new TenantctlError('adminDb', `role ${role} may not read ${need.table}.${need.column} (migration ${need.migration}), which ${need.why}: GRANT SELECT (${need.column}) ON ${need.table} TO ${role}; and run ${login.setupCommand} again`);
    }
  }
  for (const need of login.requiredFunctions ?? []) {
    const granted = await db.pool.query('SELECT has_function_privilege($1, $2, \'EXECUTE\') AS ok', [role, need.signature]).catch(db.unreachable);
    if (granted.rows[0]?.ok !== true) {
      throw new TenantctlError('adminDb', `role ${role} may not run ${need.signature} (migration ${need.migration}), which ${need.why}: GRANT EXECUTE ON FUNCTION ${need.signature} TO ${role}; and run ${login.setupCommand} again`);
    }
  }
  const password = await rolePassword(stateDir, login);
  // A verifier is base64 and '$' ':' only, so it is a safe literal (ALTER ROLE takes no parameters).
  const verifier = scramSha256Verifier(password);
  if (!/^[A-Za-z0-9+/=$:-]+$/.test(verifier)) throw new TenantctlError('internal', 'unexpected characters in a SCRAM verifier');
  if (!/^[a-z_]+$/.test(role)) throw new TenantctlError('internal', `unexpected role name ${role}`);
  await db.pool.query(`ALTER ROLE ${role} PASSWORD '${verifier}'`).catch(db.unreachable);
  const url = new URL(ownerUrl);
  url.username = role;
  url.password = password;
  return url.toString();
}
