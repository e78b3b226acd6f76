import pg from 'pg';
import { TenantctlError } from '../common/errors.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { probeConnectTimeoutMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import type { ProbeOptions } from '../stack/probes.js';

// The postgres image's entrypoint runs a temporary server on the same local socket while it
// initialises a new database (its initdb scripts: the owner role may not exist yet), with
// listen_addresses = '' so no one outside gets in; then stops it and starts the real one. A schema
// applied to the temporary server races its shutdown (review L1). The real server listens on TCP.

/** Waits until the server behind `socketDir` (a relay's directory) is the final one: it listens on TCP. */
export async function waitForFinalServer(socketDir: string, user: string, database: string, options: ProbeOptions): Promise<void> {
  await retryUntilDeadline(async () => {
    const client = new pg.Client({ host: socketDir, port: 5432, user, database, connectionTimeoutMillis: probeConnectTimeoutMs });
    client.on('error', () => {}); // the server going away between queries: the query's own error says so
    try {
      await client.connect();
      const { rows } = await client.query('SHOW listen_addresses');
      return rows[0]?.listen_addresses ? done(undefined) : notYet('the entrypoint\'s temporary first-start server is running (listen_addresses is empty)');
    } catch (error) {
      const e = error as { code?: string; message?: string };
      // 28000/3D000: the role or database the initdb scripts make is not there yet; 57P03: starting; the rest: not listening yet.
      if (['28000', '3D000', '57P03', '57P01', 'ECONNREFUSED', 'ECONNRESET', 'ENOENT'].includes(e.code ?? '') || /Connection terminated|timeout/i.test(String(e.message))) return notYet(String(e.message));
      throw new TenantctlError('notReady', `PostgreSQL refused ${user}: ${e.message}`, { cause: error });
    } finally {
      await client.end().catch(ignoreFailure('the attempt is decided; a close that fails means the connection is already gone'));
    }
  }, { what: 'waiting for the PostgreSQL server to finish its first start', ...options, onDeadline: (why) => new TenantctlError('notReady', `tenant database not ready: ${why}`) });
}
