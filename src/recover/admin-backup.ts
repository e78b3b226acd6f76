import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { adminDumpTimeoutMs } from '../common/timeouts.js';
import { recordAudit } from '../audit/write.js';
import { frontdoorLayout, readState } from '../frontdoor/layout.js';
import { adminDbContainer, dumpCompleteMarker, pgDumpArgv } from './admin-dump.js';
import { pipeChildren } from './pipe.js';
import { adminDumpName, resticBackupArgv, resticEnv, resticFailure, snapshotIdOf, type ResticAccess } from './restic-admin.js';

// `tenantctl admin-backup`: the admin database (registry, sealed secrets, API keys' hashes, usage,
// audit, settings, schedules, the journal) dumped as SQL and streamed into the backup repository as
// one restic snapshot tagged kind=admin, with no copy on local disk. The master key is never in it:
// the sealed values it holds open only with that key, which the operator keeps apart (README,
// "Recovering a lost machine"). One stream is one effect: restic records a snapshot only once the
// whole stream is in, so a run killed half-way leaves none (at most unreferenced data, which
// restic's prune removes), and there is nothing to resume or undo.

export interface AdminBackupResult {
  snapshot: string;
  repository: string;
  host: string;
  file: string;
  bytes: number;
  durationMs: number;
  /** MB/s of the dump streamed into the repository (MB = 10^6 bytes). */
  MBps: number;
}

export async function adminBackup(ctx: Context, access: ResticAccess): Promise<AdminBackupResult> {
  const started = ctx.clock.now();
  // Whether this machine's front door serves, and how its certificate is made: a tag, so recover
  // knows it before the dump is read (the door's own files are in the state dir, not in the dump).
  const door = await readState(frontdoorLayout(ctx.config)).catch(() => undefined);
  const tags = door ? [`frontdoor=${door.tls}`] : [];
  const db = await ctx.adminDb(); // brings the local admin database up (and its schema current) if it is not
  const container = await adminDbContainer(ctx.config, ctx.homeHost, ctx.signal);
  ctx.reporter.step(`dumping the admin database into ${access.display}`);
  await ctx.pause('admin-backup:begun');
  const { bytes, consumerStdout, producerTail } = await pipeChildren(
    { argv: pgDumpArgv(container), env: ctx.homeHost.env, what: 'pg_dump of the admin database' },
    { argv: resticBackupArgv(ctx.homeHost.id, tags), env: resticEnv(access), what: 'restic backup' },
    {
      timeoutMs: adminDumpTimeoutMs,
      signal: ctx.signal,
      failure: (side, exitCode, stderr) => (side.argv[0] === 'restic'
        ? resticFailure(access, 'restic backup', exitCode, stderr)
        : new TenantctlError('adminDb', `pg_dump of the admin database failed (exit ${exitCode}): ${stderr.split('\n')[0] ?? ''}`)),
    },
  );
  // pg_dump exited 0, yet a dump without its closing line is not one to recover from: said, not recorded.
  if (!producerTail.includes(dumpCompleteMarker)) throw new TenantctlError('adminDb', `pg_dump of the admin database ended without "${dumpCompleteMarker}" (${bytes} bytes): the snapshot it made is incomplete; run admin-backup again`);
  const snapshot = snapshotIdOf(consumerStdout);
  const durationMs = ctx.clock.now() - started;
  await db.withTransaction((client) => recordAudit(db, client, null, 'admin.backed-up', null, { snapshot, repository: access.display, bytes }));
  return { snapshot, repository: access.display, host: ctx.homeHost.id, file: adminDumpName, bytes, durationMs, MBps: Math.round((bytes / 1e6 / Math.max(durationMs / 1000, 0.001)) * 10) / 10 };
}
