import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { composeStartTimeoutMs, composeStopTimeoutMs, dumpRestoreTimeoutMs, portReleaseGraceMs, redisCopyTimeoutMs } from '../common/timeouts.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { dockerFromFile } from '../stack/docker-stream.js';
import { composeVerb } from '../stack/day2.js';
import type { ComposeTarget } from '../stack/compose-argv.js';
import { dataServices, psqlIn, stackContainer } from './containers.js';

// The steps that put a backup's data into a tenant's running stack, each one undoable until the
// restored tenant is proven ready (replace, prove, then drop): the dump goes into a scratch database
// beside the live one; the swap renames the live database aside (tenant_replaced_<suffix>) in the
// same transaction that renames the scratch one into its place; Redis' files are moved aside in
// their volume (.tenantctl-replaced-<suffix>/) before the snapshot's take their place. Undo puts
// each thing back from what is there (the names are fixed by the suffix recorded in the journal),
// so it works the same in the failing process and in a later one that finds the journal.

export interface RestoreNames {
  /** The database the dump is restored into while the tenant runs. */
  scratch: string;
  /** The live database's name once the restored one took its place, until the tenant is proven ready. */
  replaced: string;
  /** Folder in the Redis volume holding the replaced Redis files until then. */
  redisAside: string;
  /** Folder in the Redis volume where the snapshot's files are written before they move into place. */
  redisIncoming: string;
  /**
   * Where an undo keeps the restored data instead of dropping it once the restored stack has run
   * (its clients may have written to it): a database and a folder in the Redis volume.
   */
  restoredKept: string;
  redisRestoredKept: string;
}

export const restoreNames = (suffix: string): RestoreNames => ({
  scratch: `tenant_restore_${suffix}`,
  replaced: `tenant_replaced_${suffix}`,
  redisAside: `.tenantctl-replaced-${suffix}`,
  redisIncoming: `.tenantctl-restore-${suffix}`,
  restoredKept: `tenant_restored_${suffix}`,
  redisRestoredKept: `.tenantctl-restored-${suffix}`,
});

/** Where a restore works: the tenant's stack on its Docker host, and the services that write to its data. */
export interface RestoreStack {
  id: string;
  target: ComposeTarget;
  /** Every service but db and redis (crm: app and worker): stopped while the data changes. */
  clients: string[];
}

/** The tenant's db container, started if it is not running (a restore never stops it; an operator may have). */
async function runningDb(ctx: Context, stack: RestoreStack): Promise<string> {
  let db = await stackContainer(ctx.dockerHost, stack.target.project, dataServices.database, ctx.signal);
  if (!db) throw new TenantctlError('conflict', `${stack.id} has no ${dataServices.database} container (tenantctl status ${stack.id})`);
  if (!db.running) {
    await composeVerb(ctx.dockerHost, stack.target, ['start', dataServices.database], { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
    db = (await stackContainer(ctx.dockerHost, stack.target.project, dataServices.database, ctx.signal))!;
  }
  return db.id;
}

/** SQL in the tenant's db container (template1, as tenant_owner over the local socket); its output lines. */
async function sql(ctx: Context, container: string, statement: string, what: string): Promise<string[]> {
  const out = await psqlIn(ctx.dockerHost, container, 'template1', statement, { what, signal: ctx.signal });
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

async function existingDatabases(ctx: Context, container: string, names: string[]): Promise<Set<string>> {
  const list = names.map((n) => `'${n}'`).join(', ');
  return new Set(await sql(ctx, container, `SELECT datname FROM pg_database WHERE datname IN (${list})`, 'listing the databases'));
}

/** CREATE DATABASE scratch: an empty database owned by the tenant's owner role, beside the live one. */
export async function createScratch(ctx: Context, stack: RestoreStack, names: RestoreNames): Promise<void> {
  const db = await runningDb(ctx, stack);
  // A scratch database of this name can only be a failed attempt of this same operation: start clean.
  await sql(ctx, db, `DROP DATABASE IF EXISTS ${names.scratch} WITH (FORCE)`, 'dropping an earlier scratch database');
  await sql(ctx, db, `CREATE DATABASE ${names.scratch} OWNER tenant_owner TEMPLATE template0`, 'creating the scratch database');
}

/**
 * pg_restore of the dump into the scratch database, in one transaction, while the tenant runs; the
 * pause point `restore:pg-restore` is reached while it runs. Returns MB/s of the dump.
 */
export async function loadScratch(ctx: Context, stack: RestoreStack, names: RestoreNames, dumpPath: string, backupId: string): Promise<number> {
  const db = await runningDb(ctx, stack);
  const started = ctx.clock.now();
  const [restored] = await Promise.all([
    dockerFromFile(ctx.dockerHost, [
      'exec', '-i', db, 'pg_restore', '-U', 'tenant_owner', '-d', names.scratch, '--exit-on-error', '--single-transaction', '--no-password',
    ], dumpPath, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal }),
    ctx.pause('restore:pg-restore'),
  ]);
  if (restored.exitCode !== 0) {
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', `interrupted while pg_restore of ${backupId} ran`);
    throw new TenantctlError('docker', `pg_restore of ${backupId} failed (exit ${restored.exitCode}): ${lastErrorLine(restored.stderrTail)}`);
  }
  return restored.bytes / 1e6 / Math.max(0.001, (ctx.clock.now() - started) / 1000);
}

/** compose stop of the services that write (app, worker): nothing writes while the data changes. */
export async function stopClients(ctx: Context, stack: RestoreStack, also: string[] = []): Promise<void> {
  const services = [...stack.clients, ...also];
  if (services.length === 0) return;
  await composeVerb(ctx.dockerHost, stack.target, ['stop', '--timeout', '10', ...services], { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
}

/** The restored database takes the live one's place; the live one stays, renamed, until the tenant is proven ready. */
export async function swapIn(ctx: Context, stack: RestoreStack, names: RestoreNames): Promise<void> {
  const db = await runningDb(ctx, stack);
  await sql(ctx, db, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname IN ('tenant', '${names.scratch}') AND pid <> pg_backend_pid()`, 'closing connections to the tenant database');
  // One implicit transaction: both renames, or neither.
  await sql(ctx, db, `ALTER DATABASE tenant RENAME TO ${names.replaced}; ALTER DATABASE ${names.scratch} RENAME TO tenant`, 'swapping the databases');
  await sql(ctx, db, 'REVOKE CONNECT ON DATABASE tenant FROM PUBLIC; GRANT CONNECT ON DATABASE tenant TO tenant_app', 'granting the app its connection');
}

/**
 * Runs `script` (sh, set -eu) in a short-lived container of the tenant's Redis image with its data
 * volume at /data and the names in its environment; `input`, if given, is its stdin. Redis must be
 * stopped (it rewrites its files while it runs).
 */
async function inRedisVolume(ctx: Context, stack: RestoreStack, names: RestoreNames, script: string, what: string, input?: string): Promise<string> {
  const redis = await stackContainer(ctx.dockerHost, stack.target.project, dataServices.redis, ctx.signal);
  if (!redis) throw new TenantctlError('conflict', `${stack.id} has no ${dataServices.redis} container (tenantctl status ${stack.id})`);
  const volume = redis.volumes['/data'];
  if (!volume) throw new TenantctlError('conflict', `the redis container of ${stack.id} has no data volume at /data`);
  const argv = ['run', '--rm', '-i', '--network', 'none', '--user', '0', '--label', `tenantctl.restore=${stack.id}`,
    '-e', `ASIDE=${names.redisAside}`, '-e', `INCOMING=${names.redisIncoming}`, '-e', `KEPT=${names.redisRestoredKept}`,
    '-v', `${volume}:/data`, '--entrypoint', 'sh', redis.imageId, '-c', `set -eu\ncd /data\n${script}`];
  const result = input === undefined
    ? await ctx.dockerHost.run(['docker', ...argv], { timeoutMs: redisCopyTimeoutMs, signal: ctx.signal })
    : await dockerFromFile(ctx.dockerHost, argv, input, { timeoutMs: redisCopyTimeoutMs, signal: ctx.signal });
  if (result.exitCode !== 0) throw new TenantctlError('docker', `${what} in ${volume} failed (exit ${result.exitCode}): ${lastErrorLine(result.stderrTail)}`);
  return result.stdout;
}

/** The files Redis keeps its data in (7.x: appendonlydir with appendonly yes; dump.rdb; a pre-7 appendonly.aof). */
const redisFiles = 'appendonlydir dump.rdb appendonly.aof';

/**
 * Redis gets the snapshot: written into $INCOMING first (as the append-only file's base, Redis runs
 * with appendonly yes, and as dump.rdb), then the live files move into $ASIDE, which is marked
 * complete, and only then the new ones move into place. Redis is stopped first.
 */
export async function replaceRedis(ctx: Context, stack: RestoreStack, names: RestoreNames, rdbPath: string): Promise<void> {
  await composeVerb(ctx.dockerHost, stack.target, ['stop', '--timeout', '10', dataServices.redis], { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
  const script = [
    'rm -rf "$INCOMING" && mkdir -p "$INCOMING/appendonlydir"',
    'cat > "$INCOMING/appendonlydir/appendonly.aof.1.base.rdb"',
    ': > "$INCOMING/appendonlydir/appendonly.aof.1.incr.aof"',
    'printf "file appendonly.aof.1.base.rdb seq 1 type b\\nfile appendonly.aof.1.incr.aof seq 1 type i\\n" > "$INCOMING/appendonlydir/appendonly.aof.manifest"',
    'cp "$INCOMING/appendonlydir/appendonly.aof.1.base.rdb" "$INCOMING/dump.rdb"',
    // Owned like the volume itself: Redis (whatever user its image runs as) must append to them.
    'chown -R "$(stat -c %u:%g /data)" "$INCOMING"',
    // Aside, then marked complete: an undo trusts .complete to know the live files are all there.
    `mkdir -p "$ASIDE" && for f in ${redisFiles}; do if [ -e "$f" ]; then mv "$f" "$ASIDE/"; fi; done && touch "$ASIDE/.complete"`,
    'mv "$INCOMING/appendonlydir" "$INCOMING/dump.rdb" . && rmdir "$INCOMING"',
  ].join('\n');
  await inRedisVolume(ctx, stack, names, script, 'writing the Redis snapshot', rdbPath);
}

/**
 * compose start of the stopped services. The ports are the tenant's own (reserved in the admin
 * database), so "port is already allocated" right after the stop is the engine still releasing
 * them (its userland proxy): tried again for a short while, never with other ports.
 */
export async function startStack(ctx: Context, target: ComposeTarget): Promise<void> {
  await retryUntilDeadline(async () => {
    try {
      await composeVerb(ctx.dockerHost, target, ['start'], { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
      return done(undefined);
    } catch (error) {
      if (error instanceof TenantctlError && /port is already allocated/i.test(error.message)) return notYet(error.message);
      throw error;
    }
  }, {
    what: 'starting the stack again',
    deadlineMs: portReleaseGraceMs,
    clock: ctx.clock,
    signal: ctx.signal,
    initialDelayMs: 250,
    onDeadline: (why) => new TenantctlError('docker', why),
  });
}

/** The restored tenant is proven ready: what was replaced goes (the replaced database, the Redis files set aside). */
export async function dropReplaced(ctx: Context, stack: RestoreStack, names: RestoreNames): Promise<string[]> {
  const problems: string[] = [];
  const db = await runningDb(ctx, stack);
  await sql(ctx, db, `DROP DATABASE IF EXISTS ${names.replaced} WITH (FORCE)`, 'dropping the replaced database').catch((error) => {
    problems.push(`the replaced database ${names.replaced} could not be dropped (${messageOf(error)}); drop it by hand`);
  });
  // Redis runs and never reads these names: removing them does not need it stopped.
  await inRedisVolume(ctx, stack, names, 'rm -rf "$ASIDE" "$INCOMING"', 'removing the replaced Redis files').catch((error) => {
    problems.push(`the replaced Redis files (${names.redisAside} in its volume) could not be removed: ${messageOf(error)}`);
  });
  return problems;
}

/**
 * Puts the tenant's own data back, from whatever the restore got to: the replaced database takes its
 * name back and Redis' files set aside come back, with app, worker and Redis stopped meanwhile; the
 * scratch database is dropped (WITH FORCE: a pg_restore of a killed run may still be writing into
 * it). The restored data goes too, unless `keepRestored` (the restored stack has run, and its
 * clients may have written to it): then it is kept, renamed (RestoreNames.restoredKept and
 * .redisRestoredKept), and returned for the caller to say. Every part looks first at what is there,
 * so it may run more than once, and a restore that never got past its scratch database stops
 * nothing. The caller starts the stack and proves it ready.
 */
export async function putDataBack(ctx: Context, stack: RestoreStack, names: RestoreNames, { keepRestored = false }: { keepRestored?: boolean } = {}): Promise<string[]> {
  const kept: string[] = [];
  const db = await runningDb(ctx, stack);
  const present = await existingDatabases(ctx, db, [names.replaced, names.scratch, names.restoredKept, 'tenant']);
  // Reading the volume while Redis runs is harmless: it never writes these names.
  const look = await inRedisVolume(ctx, stack, names, 'if [ -e "$ASIDE" ] || [ -e "$INCOMING" ]; then echo touched; fi; if [ -d "$KEPT" ]; then echo kept; fi', 'looking for replaced Redis files');
  const redisTouched = look.includes('touched');
  if (present.has(names.replaced) || redisTouched) await stopClients(ctx, stack, [dataServices.redis]);
  if (redisTouched) {
    // What is at /data in place of a file set aside is the snapshot's (or written since): dropped, or kept in $KEPT.
    const drop = keepRestored ? 'mkdir -p "$KEPT" && mv "./$f" "$KEPT/"' : 'rm -rf "./$f"';
    const script = [
      'if [ -d "$ASIDE" ]; then',
      `  for f in ${redisFiles}; do`,
      `    if [ -e "$ASIDE/$f" ]; then if [ -e "./$f" ]; then ${drop}; fi && mv "$ASIDE/$f" "./$f";`,
      // With the live files all set aside (.complete), a file at /data that has no counterpart there is the snapshot's.
      `    elif [ -e "$ASIDE/.complete" ] && [ -e "./$f" ]; then ${drop}; fi`,
      '  done',
      '  rm -rf "$ASIDE"',
      'fi',
      'rm -rf "$INCOMING"',
      'if [ -d "$KEPT" ]; then echo kept; fi',
    ].join('\n');
    if ((await inRedisVolume(ctx, stack, names, script, 'putting the replaced Redis files back')).includes('kept')) kept.push(`Redis files ${names.redisRestoredKept}/ in its volume`);
  } else if (look.includes('kept')) {
    kept.push(`Redis files ${names.redisRestoredKept}/ in its volume`); // kept by an earlier run of this undo
  }
  if (present.has(names.replaced)) {
    await sql(ctx, db, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname IN ('tenant', '${names.replaced}') AND pid <> pg_backend_pid()`, 'closing connections to the tenant database');
    // The restored database (now "tenant") steps aside, to be dropped below or kept; both renames or neither.
    const aside = keepRestored ? names.restoredKept : names.scratch;
    const back = present.has('tenant') ? `ALTER DATABASE tenant RENAME TO ${aside}; ` : '';
    await sql(ctx, db, `${back}ALTER DATABASE ${names.replaced} RENAME TO tenant`, 'putting the replaced database back');
    if (keepRestored && present.has('tenant')) kept.push(`database ${names.restoredKept}`);
  } else if (present.has(names.restoredKept)) {
    kept.push(`database ${names.restoredKept}`); // kept by an earlier run of this undo
  }
  if (present.has(names.scratch) || present.has(names.replaced)) await sql(ctx, db, `DROP DATABASE IF EXISTS ${names.scratch} WITH (FORCE)`, 'dropping the scratch database');
  return kept;
}
