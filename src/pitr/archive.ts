import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { dockerQueryTimeoutMs } from '../common/timeouts.js';
import { execIn, postgresSuperuser, requireRunning, type StackContainer } from '../backups/containers.js';
import { walArchiveMount } from '../templates/wal-archive.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { superuserSessionOptions } from './restored-roles.js';

// The tenant's WAL archive volume as tenantctl sees it from outside: the files PostgreSQL's
// archive_command finished (a `.part` is a copy in progress and is never taken), read and removed
// through `docker exec` in the tenant's own PostgreSQL container, as the postgres user.

export interface ArchivedFile {
  name: string;
  /** When archive_command finished it (its mtime), ms since the epoch. */
  archivedAt: number;
}

/** WAL segments, timeline history and backup history files: what PostgreSQL archives. */
const archivedName = /^[0-9A-F]{8}(?:[0-9A-F]{16}(?:\.[0-9A-F]{8}\.backup|\.partial)?|\.history)$/;

/**
 * A folder of the archive volume holding files another cluster than the running one archived, set
 * aside by a to-time restore (restore-to-time.ts) when its cluster stopped: named after that cluster's
 * incarnation, so they ship under their own tag, never the running cluster's (their names may be the
 * same as its own segments'). '' is the volume's root, where the running cluster archives.
 */
export const asideFolder = (incarnation: string) => {
  if (!/^[0-9a-f]{32}$/.test(incarnation)) throw new TenantctlError('internal', `not an incarnation id: ${JSON.stringify(incarnation.slice(0, 80))}`);
  return `.tenantctl-${incarnation}`;
};
const asidePattern = /^\.tenantctl-([0-9a-f]{32})$/;
const dirOf = (folder: string) => {
  if (folder && !asidePattern.test(folder)) throw new TenantctlError('internal', `not an aside folder of the WAL archive: ${JSON.stringify(folder.slice(0, 80))}`);
  return folder ? `${walArchiveMount}/${folder}` : walArchiveMount;
};

/** The incarnations whose files wait set aside in the archive volume. */
export async function asideIncarnations(ctx: Context, container: string): Promise<string[]> {
  const out = await execIn(ctx.dockerHost, container, ['find', walArchiveMount, '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '-name', '.tenantctl-*', '-printf', '%f\\n'], { signal: ctx.signal, what: 'listing the WAL archive' });
  return out.split('\n').map((l) => asidePattern.exec(l.trim())?.[1]).filter((id): id is string => id !== undefined).sort();
}

/** An emptied aside folder removed (one still holding something stays: rmdir refuses). */
export async function removeAsideFolder(ctx: Context, container: string, incarnation: string): Promise<void> {
  await execIn(ctx.dockerHost, container, ['rmdir', '--', dirOf(asideFolder(incarnation))], { signal: ctx.signal, what: 'removing an emptied aside folder of the WAL archive' });
}

/** The archived files in name order (within a timeline, WAL order). Names that PostgreSQL would not write are ignored. `folder`: an aside folder, '' the root. */
export async function archivedFiles(ctx: Context, container: string, folder = ''): Promise<ArchivedFile[]> {
  const out = await execIn(ctx.dockerHost, container, ['find', dirOf(folder), '-maxdepth', '1', '-type', 'f', '!', '-name', '*.part', '-printf', '%f %T@\\n'], { signal: ctx.signal, what: 'listing the WAL archive' });
  return out.split('\n').map((line) => line.trim().split(' ')).filter(([name, at]) => name && at && archivedName.test(name))
    .map(([name, at]) => ({ name: name!, archivedAt: Math.round(Number(at) * 1000) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Removes shipped files from the archive (only once the repository holds them). */
export async function removeArchived(ctx: Context, container: string, names: readonly string[], folder = ''): Promise<void> {
  if (names.length === 0) return;
  for (const name of names) if (!archivedName.test(name)) throw new TenantctlError('internal', `refusing to remove ${JSON.stringify(name)} from the WAL archive`);
  await execIn(ctx.dockerHost, container, ['rm', '-f', '--', ...names.map((n) => `${dirOf(folder)}/${n}`)], { signal: ctx.signal, what: 'removing shipped WAL segments' });
}

/** The tenant's running PostgreSQL container that has the archive volume mounted, or a conflict. */
export async function archivingContainer(ctx: Context, project: string, service: string, tenant: string): Promise<StackContainer> {
  const c = await requireRunning(ctx.dockerHost, project, service, tenant, ctx.signal);
  if (!c.volumes[walArchiveMount]) throw new TenantctlError('conflict', `the ${service} container of ${tenant} has no WAL archive volume: its plan had point-in-time recovery off when it was rendered (tenantctl upgrade ${tenant} brings its compose file in step with its plan)`);
  return c;
}

/** psql as the server's superuser over the local socket (trusted in the container), one statement; its output. */
export async function superuserSql(ctx: Context, container: string, anyRole: string, sql: string, what: string, signal = ctx.signal): Promise<string> {
  const superuser = await postgresSuperuser(ctx.dockerHost, container, anyRole, signal);
  return (await execIn(ctx.dockerHost, container, ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '/run/postgresql', '-U', superuser, '-d', 'postgres', '-c', sql], { env: { PGOPTIONS: superuserSessionOptions }, signal, what })).trim();
}

/**
 * How long a closed segment may take to be archived. PostgreSQL's archiver rescans its ready files
 * at least once a minute by itself (PGARCH_AUTOWAKE_INTERVAL, 60 s) besides being woken for each:
 * a wait of exactly one minute lost the race in CI once in ten runs on the busy 2-core host (the
 * segment not archived, nothing failed). Three of the archiver's own rounds.
 */
export const archivedWaitMs = 180_000;

/**
 * Closes the current WAL segment (if anything was written into it) and waits until PostgreSQL has
 * archived it: then everything committed before this call is in the archive volume.
 */
export async function switchAndWaitArchived(ctx: Context, container: string, anyRole: string, deadlineMs = archivedWaitMs): Promise<void> {
  // pg_switch_wal() is the end of the segment it closed plus one (or, with nothing written since the
  // last switch, the start of the current one): one byte back is in the segment that must be archived.
  const segment = await superuserSql(ctx, container, anyRole, 'SELECT pg_walfile_name(pg_switch_wal() - 1)', 'switching to a new WAL segment');
  let late: TenantctlError | undefined;
  await retryUntilDeadline(async () => {
    const row = await superuserSql(ctx, container, anyRole, "SELECT coalesce(last_archived_wal, '') || ' ' || coalesce(last_failed_wal, '') FROM pg_stat_archiver", 'asking the archiver');
    const archived = row.split(' ')[0] ?? '';
    return archived.length >= 24 && archived.slice(0, 24) >= segment ? done(undefined) : notYet(`WAL segment ${segment} not archived yet (pg_stat_archiver: ${row || 'nothing archived'})`);
  }, {
    what: `waiting until PostgreSQL has archived WAL segment ${segment}`, deadlineMs, clock: ctx.clock, signal: ctx.signal, initialDelayMs: 100, maxDelayMs: 500,
    onDeadline: (why) => (late = new TenantctlError('docker', `${why} after ${deadlineMs / 1000} s: is archive_command failing? (tenantctl logs <id> --service db)`)),
  }).catch(async (error: unknown) => {
    // What the archiver is doing says why (waiting on its latch, in archive_command, the segment not even marked ready).
    if (late && error === late) late.details.push(await archiverState(ctx, container, anyRole, segment));
    throw error;
  });
}

/** One line on the archiver, for a segment it has not archived in time (never fails: a failure to ask is said instead). */
async function archiverState(ctx: Context, container: string, anyRole: string, segment: string): Promise<string> {
  const sql = `SELECT concat_ws('; ',
    'archiver ' || coalesce((SELECT coalesce(wait_event_type || ':' || wait_event, state, 'running') FROM pg_stat_activity WHERE backend_type = 'archiver'), 'not running'),
    'last archived ' || coalesce(last_archived_wal || ' at ' || last_archived_time, 'none'),
    'failures ' || failed_count || coalesce(' (last ' || last_failed_wal || ' at ' || last_failed_time || ')', ''),
    'ready ' || coalesce((SELECT string_agg(name, ',' ORDER BY name) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'), 'none'),
    'writing ' || pg_walfile_name(pg_current_wal_lsn()),
    'now ' || now()) FROM pg_stat_archiver`;
  const state = await superuserSql(ctx, container, anyRole, sql, 'asking what the archiver is doing', AbortSignal.timeout(dockerQueryTimeoutMs)).catch((e: unknown) => `could not ask the archiver: ${messageOf(e)}`);
  const there = await execIn(ctx.dockerHost, container, ['find', walArchiveMount, '-maxdepth', '1', '-name', `${segment}*`, '-printf', '%f %s %TT\\n'], { what: 'looking for the segment in the archive', signal: AbortSignal.timeout(dockerQueryTimeoutMs) })
    .then((out) => out.trim().replace(/\n/g, ', ') || 'not there', (e: unknown) => `unknown (${messageOf(e)})`);
  return `${state}; in ${walArchiveMount}: ${there}`;
}
