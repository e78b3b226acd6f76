import type { AdminDb } from '../admin-db/database.js';
import { loginRoleUrl, type LoginRole } from '../secrets/login-role.js';

// The gateway's own login to the admin database (migration 014): tenantctl_gateway, not a
// superuser, allowed only what the gateway does. Its password is generated once into
// <stateDir>/gateway-db.env (0600, like admin-db.env) and set on the role by every `frontdoor init`
// (a SCRAM verifier: the password itself never reaches the server; secrets/login-role.ts, shared
// with the agent's role). The gateway gets its URL in its 0600 configuration file, mounted
// read-only and read as root before it drops to nobody: never on a command line, never in an
// environment its children inherit.

export const gatewayRole = 'tenantctl_gateway';

const gatewayLogin: LoginRole = {
  role: gatewayRole,
  file: 'gateway-db.env',
  passwordKey: 'TENANTCTL_GATEWAY_DB_PASSWORD',
  header: 'tenantctl front door gateway login to the admin database; keep private',
  migration: '014_gateway_role.sql',
  setupCommand: 'tenantctl frontdoor init',
  // A role made by hand from 014's grants lacks 019's: the gateway would fail every key check.
  requiredReads: [{ table: 'admin_customers', column: 'suspension_reason', migration: '019', why: 'the gateway reads to name a suspension' }],
};

/**
 * Sets the gateway role's password and returns the URL the gateway connects with: the admin
 * database's own URL with the gateway's login in place of the owner's.
 */
export function gatewayDatabaseUrl(db: AdminDb, stateDir: string): Promise<string> {
  return loginRoleUrl(db, stateDir, gatewayLogin);
}
