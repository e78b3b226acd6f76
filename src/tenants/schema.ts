import path from 'node:path';
import { TenantctlError } from '../common/errors.js';
import { applyMigrations, readMigrations } from '../common/sql-migrations.js';
import { scriptsDir } from '../common/paths.js';
import { withPostgresLogin, type ProbeOptions, type ServiceEndpoint } from '../stack/probes.js';

export const tenantMigrationFiles = [path.join(scriptsDir, 'init-db.sql')];

/**
 * Applies the tenant schema over the published port as the owner role, recording each file with
 * its checksum in tenant_schema_migrations: a second apply is a no-op. Logging in is retried until
 * the deadline (the server may still be starting).
 */
export async function applyTenantSchema(db: ServiceEndpoint, options: ProbeOptions): Promise<string[]> {
  return withPostgresLogin({ ...db, user: 'tenant_owner', database: 'tenant' }, options, async (client) => {
    try {
      return await applyMigrations(client, 'tenant_schema_migrations', await readMigrations(tenantMigrationFiles));
    } catch (error) {
      throw new TenantctlError('internal', `tenant schema: ${(error as Error).message}`, { cause: error });
    }
  });
}
