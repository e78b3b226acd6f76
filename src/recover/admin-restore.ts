import type { Context } from '../context.js';
import type { AdminDb } from '../admin-db/database.js';
import { adminMigrationFiles } from '../admin-db/database.js';
import { applyMigrations, readMigrations } from '../common/sql-migrations.js';
import { TenantctlError } from '../common/errors.js';
import { adminDumpTimeoutMs } from '../common/timeouts.js';
import type { Repository } from '../repository/restic.js';
import { adminDbContainer, psqlRestoreArgv, restorePrologue } from './admin-dump.js';
import { startDockerChild } from './docker-child.js';
import { DumpGuard } from './dump-guard.js';
import { verifyMasterKeyCheck } from '../secrets/master-key.js';
import { resticDumpArgs, type AdminSnapshot } from './restic-admin.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// The admin snapshot laid into an empty admin database: `restic dump` streamed into psql, in one
// transaction that also records the recovery run (admin_settings 'recover_run') and closes what was
// in flight when the snapshot was taken (operations, schedule runs, backups: their processes died
// with the machine). Either all of it commits or none: a recover killed during it finds the
// database empty again and starts over; one killed after it finds its run recorded and goes on.

export const recoverRunSetting = 'recover_run';

export interface RecoverRun {
  id: string;
  snapshot: string;
  snapshotTime: string;
  snapshotHost: string;
  repository: string;
  /** How the front door was made on the lost machine (the snapshot's frontdoor= tag), if it served. */
  frontdoor: string | null;
  startedAt: string;
  state: 'running' | 'completed';
}

export async function currentRun(db: AdminDb): Promise<RecoverRun | undefined> {
  const { rows } = await db.pool.query('SELECT value FROM admin_settings WHERE key = $1', [recoverRunSetting]).catch(db.unreachable);
  return rows[0] ? (JSON.parse(rows[0].value) as RecoverRun) : undefined;
}

export async function saveRun(db: AdminDb, run: RecoverRun): Promise<void> {
  await db.pool.query('UPDATE admin_settings SET value = $2, updated_at = now() WHERE key = $1', [recoverRunSetting, JSON.stringify(run)]).catch(db.unreachable);
}

/** What says the admin database is not a new, empty one: tenants on record, or a master key set up. */
export async function adminContents(db: AdminDb): Promise<{ tenants: number; keyed: boolean }> {
  const { rows } = await db.pool.query(
    "SELECT (SELECT count(*) FROM admin_customers)::int AS tenants, EXISTS (SELECT 1 FROM admin_settings WHERE key = 'master_key_check') AS keyed",
  ).catch(db.unreachable);
  return { tenants: rows[0].tenants, keyed: rows[0].keyed };
}

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** A snapshot whose dump ends before pg_dump's closing line: recover may go on to an older one. */
export class CutOffSnapshot extends TenantctlError {}

/** Why a dump the guard read to its end must not be committed, or undefined when it may. */
export function refusalOfDump(guard: Pick<DumpGuard, 'refused' | 'complete' | 'masterKeyCheck'>, shortId: string): TenantctlError | undefined {
  if (guard.refused) return new TenantctlError('adminDb', `admin snapshot ${shortId} is not a dump tenantctl admin-backup writes (${guard.refused}); nothing of it was committed`);
  if (!guard.complete) return new CutOffSnapshot('adminDb', `admin snapshot ${shortId} is cut off (its dump lacks pg_dump's closing line: an admin-backup killed half-way); nothing of it was committed; pick another with --snapshot`);
  if (guard.masterKeyCheck === undefined) return new TenantctlError('adminDb', `admin snapshot ${shortId} holds no master-key check (admin_settings.master_key_check); nothing of it was committed`);
  return undefined;
}

export async function restoreAdminDb(ctx: Context, db: AdminDb, repo: Repository, snapshot: AdminSnapshot, run: RecoverRun): Promise<void> {
  const container = await adminDbContainer(ctx.config, ctx.homeHost, ctx.signal);
  const closing = `closed by recover: the machine it ran on was lost; the admin database came back from snapshot ${snapshot.shortId}`;
  // Only tables every admin schema since 011 has; each statement after the dump, in its transaction.
  const trailer = [
    // pg_dump's output empties the search path for its own statements.
    "SELECT pg_catalog.set_config('search_path', 'public', false);",
    // Triggers the dump defined do not fire on the statements below (they would run as the superuser).
    'SET LOCAL session_replication_role = replica;',
    `UPDATE admin_operations SET state = 'failed', reason = ${quote(closing)}, updated_at = now(), finished_at = now() WHERE state = 'running';`,
    `UPDATE admin_backups SET state = 'failed', reason = ${quote(closing)}, finished_at = now() WHERE state = 'running';`,
    `DO $$ BEGIN IF to_regclass('public.admin_schedule_runs') IS NOT NULL THEN
       UPDATE admin_schedule_runs SET state = 'failed', error = ${quote(closing)}, finished_at = now() WHERE state = 'running';
       UPDATE admin_schedules SET running_run = NULL WHERE running_run IS NOT NULL;
     END IF; END $$;`,
    `INSERT INTO admin_settings (key, value) VALUES (${quote(recoverRunSetting)}, ${quote(JSON.stringify(run))}) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();`,
    `INSERT INTO admin_audit_logs (customer_id, action, actor, old_values, new_values) VALUES (NULL, 'admin.restored', ${quote(db.actor)}, NULL, ${quote(JSON.stringify({ snapshot: snapshot.id, repository: repo.location.display, run: run.id }))});`,
    'COMMIT;',
    '',
  ].join('\n');
  ctx.reporter.step(`restoring the admin database from snapshot ${snapshot.shortId} (${snapshot.time}, host ${snapshot.host})`);
  await ctx.pause('recover:restoring-admin');
  const psql = await startDockerChild(psqlRestoreArgv(container), { env: ctx.homeHost.env, input: true, timeoutMs: adminDumpTimeoutMs, signal: ctx.signal, what: `psql restoring admin snapshot ${snapshot.shortId}`, kind: 'adminDb' });
  const stdin = psql.stdin!;
  stdin.write(restorePrologue);
  // The dump reaches psql only through the guard (dump-guard.ts); COMMIT is written only once the
  // whole dump passed it, ended with pg_dump's closing line and holds a check the master key opens.
  const guard = new DumpGuard();
  guard.pipe(stdin, { end: false });
  const guarded = new Promise<void>((resolve, reject) => guard.once('end', resolve).once('error', reject));
  // psql stopping early (an SQL error, ON_ERROR_STOP) stops restic through the guard: its error is the first cause.
  let psqlFailure: unknown;
  psql.ended.catch((error) => {
    psqlFailure = error;
    guard.destroy(error as Error);
  });
  const rollBack = async (cause: TenantctlError | unknown): Promise<never> => {
    guard.unpipe(stdin);
    stdin.end('ROLLBACK;\n');
    await psql.ended.catch(ignoreFailure('psql ends on the ROLLBACK or dies; the cause thrown is the first one'));
    throw cause;
  };
  try {
    await repo.run(resticDumpArgs(snapshot.id), { stdout: guard, timeoutMs: adminDumpTimeoutMs, signal: ctx.signal });
    guard.end();
    await guarded;
  } catch (error) {
    return rollBack(psqlFailure ? new TenantctlError('adminDb', `${(psqlFailure as Error).message}; nothing of the snapshot was committed`, { cause: psqlFailure }) : error);
  }
  const refusal = refusalOfDump(guard, snapshot.shortId);
  if (refusal) return rollBack(refusal);
  try {
    await verifyMasterKeyCheck({ env: ctx.env, stateDir: ctx.config.stateDir }, guard.masterKeyCheck!);
  } catch (error) {
    return rollBack(error);
  }
  stdin.end(trailer);
  await psql.ended.catch((error) => {
    throw new TenantctlError('adminDb', `${(error as Error).message}; nothing of the snapshot was committed`, { cause: error });
  });
  // The snapshot's schema may be older than this tenantctl's: its newer migrations apply now.
  const client = await db.connect();
  try {
    await applyMigrations(client, 'admin_schema_migrations', await readMigrations(adminMigrationFiles()));
  } catch (error) {
    throw new TenantctlError('adminDb', `admin database schema after the restore: ${(error as Error).message}`, { cause: error });
  } finally {
    client.release();
  }
}
