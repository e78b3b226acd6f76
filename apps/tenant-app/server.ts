// Entry point of the reference tenant app (bundled to dist/app/server.cjs, run in the
// tenantctl/app image). MODE=web serves HTTP; MODE=worker runs the heartbeat loop.
// Neither waits for PostgreSQL or Redis before starting: both retry with a backoff until they answer.
// Runs on Node 18 (Debian bookworm's nodejs): no newer APIs.
import type http from 'node:http';
import { closeDeps, createDeps, shortMessage, waitForDeps } from './deps.js';
import { describeEnv, EnvError, loadFileVariables, readEnv, type AppEnv } from './env.js';
import { log, setLogContext } from './log.js';
import { closeServer, createWebServer, listen } from './web.js';
import { startWorker, type Worker } from './worker.js';

/** docker stop waits 10 s before SIGKILL; we aim to be gone well within 2 s. */
const shutdownGraceMs = 1_500;

async function main(): Promise<void> {
  let config: AppEnv;
  try {
    loadFileVariables();
    config = readEnv();
  } catch (error) {
    if (error instanceof EnvError) {
      log.error(`invalid configuration: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  setLogContext({ mode: config.mode, tenant: config.tenantId || undefined });
  if (!config.tenantId) log.warn('TENANT_ID is not set');
  if (config.mode === 'web' && !config.jwtSecret) log.warn('JWT_SECRET is not set');

  const deps = createDeps(config);
  let server: http.Server | undefined;
  let worker: Worker | undefined;

  let shuttingDown = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info(`received ${signal}, shutting down`);
    // Last resort: whatever hangs, the process is gone shortly after the grace period.
    setTimeout(() => {
      log.warn('shutdown did not finish in time; exiting');
      process.exit(0);
    }, shutdownGraceMs * 2).unref();
    void (async () => {
      try {
        if (server) await closeServer(server, shutdownGraceMs);
        if (worker) await worker.stop();
        await closeDeps(deps, shutdownGraceMs);
      } catch (error) {
        log.error('error during shutdown', { error: shortMessage(error) });
      }
      log.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  log.info('starting', describeEnv(config));
  if (config.mode === 'web') {
    server = createWebServer(config, deps);
    await listen(server, config.port);
    log.info('listening', { port: config.port });
    // Not awaited: the server answers (/api/ready: 503) while PostgreSQL or Redis are still starting.
    void waitForDeps(deps, () => shuttingDown);
  } else {
    worker = startWorker(deps);
  }
}

process.on('unhandledRejection', (reason) => {
  log.error('unhandled rejection', { error: shortMessage(reason) });
});

main().catch((error: unknown) => {
  log.error('fatal', { error: shortMessage(error) });
  process.exit(1);
});
