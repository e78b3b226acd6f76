import { open } from 'node:fs/promises';
import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { composeStartTimeoutMs, composeStopTimeoutMs, dumpRestoreTimeoutMs, redisCopyTimeoutMs, redisSnapshotTimeoutMs } from '../common/timeouts.js';
import { done, notYet, retryUntilDeadline } from '../common/retry.js';
import { tmpfsOverImageVolumes } from '../engine/docker.js';
import { dockerFromFile, dockerToFile, type StreamResult, type StreamSink, type StreamSource } from '../engine/docker-stream.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import { execIn, redisCliIn } from './containers.js';
import { pieceContainer, type Piece } from './pieces.js';

// A consistent snapshot of each kind of state piece, taken while the tenant runs, streamed into a
// file (never held in memory), and checked before the backup is recorded (an error text saved as
// a "dump" is no backup): postgres by pg_dump -Fc in its own container (its own version, as the owner, no TTY),
// redis by BGSAVE and its dump.rdb, sqlite by SQLite's online backup in a container of the
// service's image on its volume (consistent while the service writes; integrity_check on the copy),
// volume by stop-and-copy.

export interface SnapshotContext {
  /** Its dockerHost is the engine holding the tenant's containers (a swarm tenant's node). */
  ctx: Context;
  project: string;
  /** Where the tenant runs: a volume piece's service is stopped and started through it. */
  runtime: TenantRuntime;
  tenant: string;
  secrets: Readonly<Record<string, string>>;
  /** The database the template's migrations go into: its dump must hold tenant_schema_migrations. */
  migrationsDatabase?: string;
}

/**
 * The piece's snapshot into `file` (or a stream: a repository backup's `restic backup --stdin`),
 * checked; what the manifest records of it. Into a stream, a dump is checked by the caller, once it
 * can be read back from where it went (checkPostgresDump); the format's magic is checked here.
 */
export async function snapshotPiece(s: SnapshotContext, piece: Piece, file: StreamSink): Promise<StreamResult & { image: string; imageId: string; version?: string }> {
  const { ctx } = s;
  // A backup reads a container that exists (never a service's definition: a task between containers is no snapshot).
  const container = await pieceContainer(ctx, s.project, piece);
  const meta = { image: container.image, imageId: container.imageId };
  switch (piece.kind) {
    case 'postgres': {
      if (!container.running) throw new TenantctlError('conflict', `the ${piece.service} container of ${s.tenant} is not running (tenantctl start ${s.tenant})`);
      const dump = await dockerToFile(ctx.dockerHost, ['exec', container.id, 'pg_dump', '-U', piece.user!, '-d', piece.database!, '-Fc', '--no-password'], file, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal });
      if (dump.exitCode !== 0) throw new TenantctlError('docker', `pg_dump of ${s.tenant}'s ${piece.name} failed (exit ${dump.exitCode}): ${lastErrorLine(dump.stderrTail)}`);
      if (typeof file === 'string') await checkPostgresDump(s, container.id, piece, file);
      else checkHead(dump.head, 'PGDMP', `the dump of ${piece.name}`);
      const version = (await execIn(ctx.dockerHost, container.id, ['pg_dump', '--version'], { what: 'pg_dump --version', signal: ctx.signal })).trim();
      return { ...dump, ...meta, version };
    }
    case 'redis': {
      if (!container.running) throw new TenantctlError('conflict', `the ${piece.service} container of ${s.tenant} is not running (tenantctl start ${s.tenant})`);
      await redisSnapshot(ctx, container.id, s.secrets[piece.passwordSecret!] ?? '');
      const rdb = await dockerToFile(ctx.dockerHost, ['exec', container.id, 'cat', `${piece.mount}/dump.rdb`], file, { timeoutMs: redisCopyTimeoutMs, signal: ctx.signal });
      if (rdb.exitCode !== 0) throw new TenantctlError('docker', `copying the Redis snapshot of ${s.tenant} failed (exit ${rdb.exitCode}): ${lastErrorLine(rdb.stderrTail)}`);
      await checkMagicOf(file, rdb.head, 'REDIS', `the Redis snapshot of ${s.tenant}`);
      return { ...rdb, ...meta };
    }
    case 'sqlite': {
      const copy = await dockerToFile(ctx.dockerHost, await helperArgv(ctx, piece, container, sqliteBackupScript(piece)), file, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal });
      if (copy.exitCode !== 0) throw new TenantctlError('docker', `the SQLite backup of ${s.tenant}'s ${piece.name} (${piece.path}) failed (exit ${copy.exitCode}): ${lastErrorLine(copy.stderrTail)}`);
      await checkMagicOf(file, copy.head, 'SQLite format 3\0', `the SQLite backup of ${s.tenant}'s ${piece.name}`);
      return { ...copy, ...meta };
    }
    case 'volume': {
      // Stop-and-copy: nothing writes while the archive is made; started again whatever happens.
      const stopped = container.running;
      if (stopped) await s.runtime.stop([piece.service], { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
      try {
        const tar = await dockerToFile(ctx.dockerHost, await helperArgv(ctx, piece, container, 'tar --numeric-owner -C "$MOUNT" --exclude="./.tenantctl-*" -cf - .'), file, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal });
        if (tar.exitCode !== 0) throw new TenantctlError('docker', `archiving ${s.tenant}'s ${piece.name} (${piece.mount}) failed (exit ${tar.exitCode}): ${lastErrorLine(tar.stderrTail)}`);
        if (tar.bytes < 1024) throw new TenantctlError('docker', `the archive of ${s.tenant}'s ${piece.name} is only ${tar.bytes} bytes: not a tar archive`);
        await checkMagicOf(file, tar.head, 'ustar', `the archive of ${s.tenant}'s ${piece.name}`, 257);
        return { ...tar, ...meta };
      } finally {
        // Started again whatever happened, Ctrl-C included (its own signal: the command's may be
        // aborted); a failure to start is said beside the first cause, never in its place. (A backup
        // killed with -9 here leaves the service stopped: status says so; tenantctl start starts it.)
        if (stopped) {
          await s.runtime.start([piece.service], { timeoutMs: composeStartTimeoutMs, signal: new AbortController().signal, onProgress: ctx.reporter.detail })
            .catch((error) => ctx.reporter.info(`starting ${piece.service} of ${s.tenant} again failed: ${messageOf(error)}; tenantctl start ${s.tenant}`));
        }
      }
    }
  }
}

/**
 * A container of the service's image with the piece's volume where the service has it, running
 * `script` (sh) as root, without network; a tmpfs over any other VOLUME the image declares, else
 * each run made an anonymous volume there that --rm does not always remove (pitr/volume-steps.ts).
 */
async function helperArgv(ctx: Context, piece: Piece, container: { imageId: string; volume?: string }, script: string): Promise<string[]> {
  return ['run', '--rm', '--network', 'none', '--user', '0', '-e', `MOUNT=${piece.mount}`, '-e', `DB=${piece.path ?? ''}`,
    '-v', `${container.volume}:${piece.mount}`, ...await tmpfsOverImageVolumes(ctx.dockerHost, container.imageId, ctx.signal, piece.mount ? [piece.mount] : []), '--entrypoint', 'sh', container.imageId, '-c', `set -eu\n${script}`];
}

/**
 * SQLite's online backup API (a consistent copy while the service writes; SQLite's own locking
 * across the two containers on one volume) into the helper's /tmp, then onto stdout. A file the
 * service never created is an error, not an empty database made here.
 */
function sqliteBackupScript(piece: Piece): string {
  // The copy is checked (PRAGMA integrity_check) before it is written out: a corrupt file is no backup.
  const copy = piece.via === 'sqlite3'
    ? 'sqlite3 "$DB" ".backup /tmp/tenantctl-snapshot.db"\ncheck="$(sqlite3 /tmp/tenantctl-snapshot.db "PRAGMA integrity_check")"\n[ "$check" = ok ] || { echo "integrity_check: $check" >&2; exit 4; }'
    : 'python3 -c "import sqlite3, sys; s = sqlite3.connect(sys.argv[1]); d = sqlite3.connect(\'/tmp/tenantctl-snapshot.db\'); s.backup(d); r = d.execute(\'PRAGMA integrity_check\').fetchone()[0]; d.close(); s.close(); sys.exit(None if r == \'ok\' else \'integrity_check: \' + r)" "$DB"';
  return ['[ -f "$DB" ] || { echo "no database file $DB (the service has not created it)" >&2; exit 3; }', copy, 'cat /tmp/tenantctl-snapshot.db'].join('\n');
}

/**
 * A dump is recorded only if it is a custom-format dump that pg_restore (the tenant's own) reads
 * to the end of its table of contents (an error text or a truncated file fails), and, for the
 * migrations database, holds its tenant_schema_migrations data. (Size proves nothing: a small
 * database dumps to about a kilobyte.)
 */
export async function checkPostgresDump(s: Pick<SnapshotContext, 'ctx' | 'migrationsDatabase'>, container: string, piece: Piece, file: StreamSource): Promise<void> {
  const { ctx } = s;
  if (typeof file === 'string') await checkMagic(file, 'PGDMP', `the dump of ${piece.name}`);
  const list = await dockerFromFile(ctx.dockerHost, ['exec', '-i', container, 'pg_restore', '--list'], file, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal });
  if (list.exitCode !== 0) throw new TenantctlError('docker', `pg_restore --list cannot read the dump of ${piece.name} (exit ${list.exitCode}): ${lastErrorLine(list.stderrTail)}`);
  if (typeof file !== 'string') checkHead(list.head, 'PGDMP', `the dump of ${piece.name} read back`);
  if (piece.database === s.migrationsDatabase && !/TABLE DATA \S+ tenant_schema_migrations/.test(list.stdout)) {
    throw new TenantctlError('docker', `the dump of ${piece.name} has no data of tenant_schema_migrations: it is not the tenant's database (not recorded as a backup)`);
  }
}

async function checkMagicOf(file: StreamSink, head: Buffer, magic: string, what: string, offset = 0): Promise<void> {
  if (typeof file === 'string') await checkMagic(file, magic, what, offset);
  else checkHead(head, magic, what, offset);
}

function checkHead(head: Buffer, magic: string, what: string, offset = 0): void {
  if (head.subarray(offset, offset + magic.length).toString('latin1') !== magic) throw new TenantctlError('docker', `${what} does not start with ${JSON.stringify(magic)}: not the expected format`);
}

export async function checkMagic(file: string, magic: string, what: string, offset = 0): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(magic.length);
    await handle.read(buffer, 0, magic.length, offset);
    if (buffer.toString('latin1') !== magic) throw new TenantctlError('docker', `${what} does not start with ${JSON.stringify(magic)}: not the expected format`);
  } finally {
    await handle.close();
  }
}

/** BGSAVE, waited for (through retry.ts) until Redis says a save newer than the request succeeded. */
async function redisSnapshot(ctx: Context, container: string, password: string): Promise<void> {
  const host = ctx.dockerHost;
  const info = async () => {
    const text = await redisCliIn(host, container, password, ['INFO', 'persistence'], { what: 'redis-cli INFO', signal: ctx.signal });
    return Object.fromEntries(text.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => l.trim().split(':', 2) as [string, string]));
  };
  const before = Number((await info()).rdb_saves ?? 0);
  // SCHEDULE: if a rewrite of the append-only file is running, the save starts right after it.
  await redisCliIn(host, container, password, ['BGSAVE', 'SCHEDULE'], { what: 'redis-cli BGSAVE', signal: ctx.signal });
  await retryUntilDeadline(async () => {
    const now = await info();
    if (now.rdb_bgsave_in_progress === '1' || Number(now.rdb_saves ?? 0) <= before) return notYet('BGSAVE in progress');
    if (now.rdb_last_bgsave_status !== 'ok') throw new TenantctlError('docker', `Redis BGSAVE failed (rdb_last_bgsave_status ${now.rdb_last_bgsave_status}); see tenantctl logs`);
    return done(undefined);
  }, {
    what: 'waiting for the Redis snapshot',
    deadlineMs: redisSnapshotTimeoutMs,
    clock: ctx.clock,
    signal: ctx.signal,
    onDeadline: (why) => new TenantctlError('docker', `the Redis snapshot did not finish within ${redisSnapshotTimeoutMs / 1000} s: ${why}`),
  });
}
