import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { composeStartTimeoutMs, composeStopTimeoutMs, dumpRestoreTimeoutMs, portReleaseGraceMs } from '../common/timeouts.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { dockerFromFile } from '../engine/docker-stream.js';
import { onContainers } from '../runtime/runtime-for.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { ComposeTarget } from '../stack/compose-argv.js';
import { execIn, postgresSuperuser } from './containers.js';
import { pieceContainer, type Piece } from './pieces.js';
import type { WithInput } from './source.js';
import { dropScript, fileNames, inPieceVolume, lookScript, putBackScript, stageScript, swapScript } from './piece-files.js';

// The steps that put a backup's state into a tenant's running stack, piece by piece, each one
// undoable until the restored tenant is proven ready (replace, prove, then drop). A PostgreSQL
// piece is restored into a scratch database beside the live one, which the swap renames aside (in
// the same transaction that renames the scratch one into its place); the pieces kept as files
// (Redis, SQLite, volumes: piece-files.ts) are staged beside the live files in their volume, and
// the swap sets the live ones aside. Undo puts each thing back from what is there (the names are
// fixed by the operation's suffix, recorded in the journal), so it works the same in the failing
// process and in a later one that finds the journal.

/** Where a restore works: the tenant's stack, and the services that stop while its state changes. */
export interface RestoreStack {
  id: string;
  project: string;
  target: ComposeTarget;
  /** Every service but those serving a PostgreSQL piece (their server must run for the swap). */
  clients: string[];
  /** Where it runs: services are stopped and started through it; its containers are on runtime.containers. */
  runtime: TenantRuntime;
}

/** A PostgreSQL piece's databases during a restore: all on the piece's own server. */
export interface DatabaseNames {
  live: string;
  /** The database the dump is restored into while the tenant runs. */
  scratch: string;
  /** The live database's name once the restored one took its place, until the tenant is proven ready. */
  replaced: string;
  /** Where an undo keeps the restored database once the restored stack has run (its clients may have written to it). */
  kept: string;
}

export const databaseNames = (suffix: string, piece: Piece): DatabaseNames => {
  const tail = `${suffix}_${piece.name.replaceAll('-', '_')}`;
  return { live: piece.database!, scratch: `restore_${tail}`, replaced: `replaced_${tail}`, kept: `restored_${tail}` };
};

/** Stacks' services: every one that does not serve a PostgreSQL piece stops while the state changes. */
export function clientsOf(services: readonly string[], pieces: readonly Piece[]): string[] {
  const servers = new Set(pieces.filter((p) => p.kind === 'postgres').map((p) => p.service));
  return services.filter((s) => !servers.has(s));
}

/** The piece's container, started if it is not running (a restore never stops a PostgreSQL server; an operator may have). */
async function runningServer(ctx: Context, stack: RestoreStack, piece: Piece): Promise<string> {
  ctx = onContainers(ctx, stack.runtime);
  let container = await pieceContainer(ctx, stack.project, piece, stack.runtime);
  if (!container.running) {
    await stack.runtime.start([piece.service], { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
    container = await pieceContainer(ctx, stack.project, piece, stack.runtime);
  }
  return container.id;
}

/**
 * SQL in the piece's server (database template1, as its superuser over the local socket: creating,
 * renaming and dropping databases and closing other roles' connections are not the owner's to do);
 * its output lines.
 */
async function sql(ctx: Context, container: string, piece: Piece, statement: string, what: string): Promise<string[]> {
  const superuser = await postgresSuperuser(ctx.dockerHost, container, piece.user!, ctx.signal);
  const out = await execIn(ctx.dockerHost, container, ['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-U', superuser, '-d', 'template1', '-c', statement], { what, signal: ctx.signal });
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

async function existingDatabases(ctx: Context, container: string, piece: Piece, names: string[]): Promise<Set<string>> {
  const list = names.map((n) => `'${n.replaceAll("'", "''")}'`).join(', ');
  return new Set(await sql(ctx, container, piece, `SELECT datname FROM pg_database WHERE datname IN (${list})`, 'listing the databases'));
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * Stages a piece beside the live state while the tenant runs: a PostgreSQL dump into a scratch
 * database (the pause point `restore:pg-restore` is reached while pg_restore runs), a file piece
 * into its volume's staging folder. Returns MB/s of a dump (0 for the others).
 */
export async function stagePiece(ctx: Context, stack: RestoreStack, piece: Piece, withInput: WithInput, suffix: string, backupId: string): Promise<number> {
  ctx = onContainers(ctx, stack.runtime);
  if (piece.kind !== 'postgres') {
    const container = await pieceContainer(ctx, stack.project, piece, stack.runtime);
    await withInput(async (file) => {
      await inPieceVolume(ctx, piece, { volume: container.volume!, image: container.imageId, tenant: stack.id }, fileNames(suffix, piece), stageScript(piece), `staging ${piece.name} of backup ${backupId}`, file);
      return { exitCode: 0 };
    });
    return 0;
  }
  const names = databaseNames(suffix, piece);
  const db = await runningServer(ctx, stack, piece);
  // A scratch database of this name can only be a failed attempt of this same operation: start clean.
  await sql(ctx, db, piece, `DROP DATABASE IF EXISTS ${ident(names.scratch)} WITH (FORCE)`, 'dropping an earlier scratch database');
  // Like the live database: its owner, encoding and locale (template0 would give the server's defaults).
  const [like] = await sql(ctx, db, piece, `SELECT pg_get_userbyid(datdba) || '|' || pg_encoding_to_char(encoding) || '|' || datcollate || '|' || datctype FROM pg_database WHERE datname = ${literal(names.live)}`, 'reading the live database\'s owner and locale');
  const [owner, encoding, collate, ctype] = like ? like.split('|') : [piece.user!];
  const settings = encoding ? ` ENCODING ${literal(encoding)} LC_COLLATE ${literal(collate!)} LC_CTYPE ${literal(ctype!)}` : '';
  await sql(ctx, db, piece, `CREATE DATABASE ${ident(names.scratch)} OWNER ${ident(owner!)} TEMPLATE template0${settings}`, 'creating the scratch database');
  const started = ctx.clock.now();
  const [restored] = await Promise.all([
    // Logged in as the superuser (the local socket trusts it), but every statement of the dump runs
    // as the database's owner (--role: SET ROLE): a dump is the tenant's data, and a CHECK or
    // default calling a function of the tenant's would otherwise run as the superuser while the rows
    // are copied in (ALTER ROLE ... SUPERUSER). The superuser is kept for CREATE, RENAME and DROP
    // DATABASE only (sql()).
    withInput(async (file) => dockerFromFile(ctx.dockerHost, ['exec', '-i', db, 'pg_restore', '-U', await postgresSuperuser(ctx.dockerHost, db, piece.user!, ctx.signal), `--role=${owner!}`, '-d', names.scratch, '--exit-on-error', '--single-transaction', '--no-password'], file, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal })),
    ctx.pause('restore:pg-restore'),
  ]);
  if (restored.exitCode !== 0) {
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', `interrupted while pg_restore of ${backupId} ran`);
    throw new TenantctlError('docker', `pg_restore of ${piece.name} from ${backupId} failed (exit ${restored.exitCode}): ${lastErrorLine(restored.stderrTail)}`);
  }
  return restored.bytes / 1e6 / Math.max(0.001, (ctx.clock.now() - started) / 1000);
}

/** compose stop of the services that write (every one but the PostgreSQL servers): nothing writes while the state changes. */
export async function stopClients(ctx: Context, stack: RestoreStack): Promise<void> {
  if (stack.clients.length === 0) return;
  await stack.runtime.stop(stack.clients, { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
}

/**
 * The staged state takes the live state's place, which stays, set aside, until the tenant is proven
 * ready: a PostgreSQL piece gets the live database's connect rights, then both renames in one
 * transaction; a file piece's live files move aside and the staged ones in (its service is stopped).
 */
export async function swapPiece(ctx: Context, stack: RestoreStack, piece: Piece, suffix: string): Promise<void> {
  ctx = onContainers(ctx, stack.runtime);
  if (piece.kind !== 'postgres') {
    const container = await pieceContainer(ctx, stack.project, piece, stack.runtime);
    await inPieceVolume(ctx, piece, { volume: container.volume!, image: container.imageId, tenant: stack.id }, fileNames(suffix, piece), swapScript(piece), `swapping in ${piece.name}`);
    return;
  }
  const names = databaseNames(suffix, piece);
  const db = await runningServer(ctx, stack, piece);
  // Who may connect stays who could: the live database's rights, granted on the restored one.
  const rights = await sql(ctx, db, piece, [
    "SELECT a.privilege_type || '|' || CASE WHEN a.grantee = 0 THEN '' ELSE r.rolname END",
    'FROM pg_database d CROSS JOIN LATERAL aclexplode(COALESCE(d.datacl, acldefault(\'d\', d.datdba))) a LEFT JOIN pg_roles r ON r.oid = a.grantee',
    `WHERE d.datname = ${literal(names.live)} AND a.grantee <> d.datdba`,
  ].join(' '), 'reading the database\'s rights');
  const grants = rights.map((line) => line.split('|') as [string, string]).filter(([privilege]) => /^(CONNECT|TEMPORARY|CREATE)$/.test(privilege))
    .map(([privilege, role]) => `GRANT ${privilege} ON DATABASE ${ident(names.scratch)} TO ${role === '' ? 'PUBLIC' : ident(role)}`);
  await sql(ctx, db, piece, [`REVOKE ALL ON DATABASE ${ident(names.scratch)} FROM PUBLIC`, ...grants].join('; '), 'granting the restored database its rights');
  await sql(ctx, db, piece, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname IN (${literal(names.live)}, ${literal(names.scratch)}) AND pid <> pg_backend_pid()`, 'closing connections to the database');
  // One implicit transaction: both renames, or neither.
  await sql(ctx, db, piece, `ALTER DATABASE ${ident(names.live)} RENAME TO ${ident(names.replaced)}; ALTER DATABASE ${ident(names.scratch)} RENAME TO ${ident(names.live)}`, 'swapping the databases');
}

/**
 * compose start of the stopped services. The ports are the tenant's own (reserved in the admin
 * database), so "port is already allocated" right after the stop is the engine still releasing
 * them (its userland proxy): tried again for a short while, never with other ports.
 */
export async function startStack(ctx: Context, stack: RestoreStack): Promise<void> {
  await retryUntilDeadline(async () => {
    try {
      await stack.runtime.start(undefined, { timeoutMs: composeStartTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
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

/** The restored tenant is proven ready: what each piece set aside goes. A failure to is said, not fatal: the state is restored. */
export async function dropReplaced(ctx: Context, stack: RestoreStack, pieces: readonly Piece[], suffix: string): Promise<string[]> {
  ctx = onContainers(ctx, stack.runtime);
  const problems: string[] = [];
  for (const piece of pieces) {
    try {
      if (piece.kind === 'postgres') {
        const names = databaseNames(suffix, piece);
        await sql(ctx, await runningServer(ctx, stack, piece), piece, `DROP DATABASE IF EXISTS ${ident(names.replaced)} WITH (FORCE)`, 'dropping the replaced database');
      } else {
        // The running service never reads these names: removing them does not need it stopped.
        const container = await pieceContainer(ctx, stack.project, piece, stack.runtime);
        await inPieceVolume(ctx, piece, { volume: container.volume!, image: container.imageId, tenant: stack.id }, fileNames(suffix, piece), dropScript, `removing the replaced files of ${piece.name}`);
      }
    } catch (error) {
      problems.push(`what the restore replaced of ${piece.name} could not be removed (${messageOf(error)}); remove it by hand`);
    }
  }
  return problems;
}

/**
 * Puts the tenant's own state back, from whatever the restore got to: each replaced database takes
 * its name back and each piece's files set aside come back, with the clients stopped meanwhile;
 * scratch databases are dropped (WITH FORCE: a pg_restore of a killed run may still be writing into
 * them) and staging folders removed. The restored state goes too, unless `keepRestored` (the
 * restored stack has run, and its clients may have written to it): then it is kept, renamed, and
 * returned for the caller to say. A restore that never set anything aside stops nothing. The
 * caller starts the stack and proves it ready.
 */
export async function putStateBack(ctx: Context, stack: RestoreStack, pieces: readonly Piece[], suffix: string, { keepRestored = false } = {}): Promise<string[]> {
  ctx = onContainers(ctx, stack.runtime);
  const kept: string[] = [];
  const looks = await Promise.all(pieces.map(async (piece) => {
    if (piece.kind === 'postgres') {
      const names = databaseNames(suffix, piece);
      const db = await runningServer(ctx, stack, piece);
      return { piece, db, present: await existingDatabases(ctx, db, piece, [names.replaced, names.scratch, names.kept, names.live]) };
    }
    const container = await pieceContainer(ctx, stack.project, piece, stack.runtime);
    const where = { volume: container.volume!, image: container.imageId, tenant: stack.id };
    return { piece, where, look: await inPieceVolume(ctx, piece, where, fileNames(suffix, piece), lookScript, `looking at ${piece.name}'s volume`) };
  }));
  // The last piece swapped in goes back first.
  looks.reverse();
  const setAside = looks.some((l) => ('present' in l && l.present?.has(databaseNames(suffix, l.piece).replaced)) || ('look' in l && l.look?.includes('aside')));
  if (setAside) await stopClients(ctx, stack);
  for (const l of looks) {
    if ('look' in l && l.where) {
      if (!/staged|aside|kept/.test(l.look ?? '')) continue;
      const out = await inPieceVolume(ctx, l.piece, l.where, fileNames(suffix, l.piece), putBackScript(l.piece, keepRestored), `putting ${l.piece.name}'s files back`);
      if (out.includes('kept')) kept.push(`${l.piece.name}'s files ${fileNames(suffix, l.piece).kept}/ in its volume`);
      continue;
    }
    if (!('present' in l) || !l.present || !l.db) continue;
    const names = databaseNames(suffix, l.piece);
    if (l.present.has(names.replaced)) {
      await sql(ctx, l.db, l.piece, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname IN (${literal(names.live)}, ${literal(names.replaced)}) AND pid <> pg_backend_pid()`, 'closing connections to the database');
      // The restored database steps aside, to be dropped below or kept; both renames or neither.
      const aside = keepRestored ? names.kept : names.scratch;
      const back = l.present.has(names.live) ? `ALTER DATABASE ${ident(names.live)} RENAME TO ${ident(aside)}; ` : '';
      await sql(ctx, l.db, l.piece, `${back}ALTER DATABASE ${ident(names.replaced)} RENAME TO ${ident(names.live)}`, 'putting the replaced database back');
      if (keepRestored && l.present.has(names.live)) kept.push(`database ${names.kept}`);
    } else if (l.present.has(names.kept)) {
      kept.push(`database ${names.kept}`); // kept by an earlier run of this undo
    }
    if (l.present.has(names.scratch) || l.present.has(names.replaced)) await sql(ctx, l.db, l.piece, `DROP DATABASE IF EXISTS ${ident(names.scratch)} WITH (FORCE)`, 'dropping the scratch database');
  }
  return kept;
}
