import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { TenantctlError } from '../errors.js';
import { applyMigrations, readMigrations } from '../db/migrate.js';
import { scriptsDir } from '../paths.js';
import type { Clock } from '../compose/wait.js';

export const tenantMigrationFiles = [path.join(scriptsDir, 'init-db.sql')];

export interface TenantEndpoint {
  host: string;
  port: number;
  password: string;
}

/**
 * Applies the tenant schema over the published port as the owner role, recording each file with
 * its checksum in tenant_schema_migrations: a second apply is a no-op.
 * Connection attempts are retried until the deadline: the health check ran inside the container and
 * the host's port forwarding can lag it, and a service without a health check may still be starting.
 */
export async function applyTenantSchema(db: TenantEndpoint, clock: Clock, deadlineMs: number): Promise<string[]> {
  const giveUpAt = clock.now() + deadlineMs;
  for (;;) {
    const client = new pg.Client({ host: db.host, port: db.port, user: 'tenant_owner', password: db.password, database: 'tenant', connectionTimeoutMillis: 5_000 });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      if (clock.now() < giveUpAt && isTransient(error)) {
        await clock.sleep(200);
        continue;
      }
      throw new TenantctlError('notReady', `tenant database on port ${db.port}: ${(error as Error).message}`, { cause: error });
    }
    try {
      return await applyMigrations(client, 'tenant_schema_migrations', await readMigrations(tenantMigrationFiles));
    } catch (error) {
      throw new TenantctlError('internal', `tenant schema: ${(error as Error).message}`, { cause: error });
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** AUTH + PING on the tenant's Redis through its published port, retried until the deadline. */
export async function checkTenantRedis(redis: TenantEndpoint, clock: Clock, deadlineMs: number): Promise<void> {
  const giveUpAt = clock.now() + deadlineMs;
  for (;;) {
    const client = new Redis({ host: redis.host, port: redis.port, password: redis.password, lazyConnect: true, connectTimeout: 5_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => {}); // reported through the awaited calls below
    try {
      await client.connect();
      const answer = await client.ping();
      if (answer !== 'PONG') throw new Error(`PING answered ${answer}`);
      return;
    } catch (error) {
      const message = (error as Error).message;
      // Wrong password or a refused command is final; a server not yet listening is not.
      if (clock.now() >= giveUpAt || /WRONGPASS|NOAUTH|invalid password|PING answered/i.test(message)) {
        throw new TenantctlError('notReady', `tenant redis on port ${redis.port}: ${message}`, { cause: error });
      }
      await clock.sleep(250);
    } finally {
      client.disconnect();
    }
  }
}

function isTransient(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === '57P03' || /Connection terminated|timeout/i.test(String(e.message));
}
