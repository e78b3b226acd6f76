import { Transform } from 'node:stream';
import type { Context } from '../context.js';
import type { Repository } from '../repository/restic.js';
import { TenantctlError } from '../common/errors.js';
import { adminDumpTimeoutMs } from '../common/timeouts.js';
import { recordAudit } from '../audit/write.js';
import { frontdoorLayout, readState } from '../frontdoor/layout.js';
import { adminDbContainer, dumpCompleteMarker, pgDumpArgv } from './admin-dump.js';
import { startDockerChild } from './docker-child.js';
import { adminDumpName, resticBackupArgs } from './restic-admin.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// `tenantctl admin-backup`: the admin database (registry, sealed secrets, API keys' hashes, usage,
// audit, settings, schedules, the journal) dumped as SQL and streamed into the backup repository as
// one restic snapshot tagged kind=admin, with no copy on local disk. The master key is never in it:
// the sealed values it holds open only with that key, which the operator keeps apart (README,
// "Recovering a lost machine"). One stream is one effect: the stream into restic ends only once
// pg_dump has exited 0 with its closing line, else it fails and restic is stopped before it records
// a snapshot. A run killed half-way (kill -9) cannot stop restic, which reads the end of its stdin
// as the end of the file and records a cut-off snapshot: recover tells it by the missing closing
// line (dump-guard.ts), commits nothing of it and goes on to the next older snapshot. So there is
// nothing to journal, resume or undo here.

export interface AdminBackupResult {
  snapshot: string;
  repository: string;
  host: string;
  file: string;
  tags: string[];
  bytes: number;
  durationMs: number;
  /** MB/s of the dump streamed into the repository (MB = 10^6 bytes). */
  MBps: number;
}

export async function adminBackup(ctx: Context, repo: Repository): Promise<AdminBackupResult> {
  const started = ctx.clock.now();
  const db = await ctx.adminDb(); // brings the local admin database up (and its schema current) if it is not
  const container = await adminDbContainer(ctx.config, ctx.homeHost, ctx.signal);
  // Whether this machine's front door serves, and how its certificate is made: a tag, so recover
  // knows it before the dump is read (the door's own files are in the state dir, not in the dump).
  const door = await readState(frontdoorLayout(ctx.config)).catch(ignoreFailure('no readable door state: the snapshot carries no door tag and recover sets up no door'));
  const tags = door ? [`frontdoor=${door.tls}`] : [];
  ctx.reporter.step(`dumping the admin database into ${repo.location.display}`);
  await ctx.pause('admin-backup:begun');
  const dumpStarted = ctx.clock.now();

  const dump = await startDockerChild(pgDumpArgv(container), { env: ctx.homeHost.env, input: false, timeoutMs: adminDumpTimeoutMs, signal: ctx.signal, what: 'pg_dump of the admin database', kind: 'adminDb' });
  let bytes = 0;
  let tail = Buffer.alloc(0);
  let dumpFailure: unknown;
  // The stream's end waits for pg_dump's exit: a failed or cut-off dump errors the stream, and restic is stopped without a snapshot.
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const first = bytes === 0;
      bytes += chunk.length;
      tail = Buffer.concat([tail, chunk]).subarray(-256);
      if (!first) return callback(null, chunk);
      // Half of the first chunk on its way to restic, then a pause point: a kill there leaves restic a cut-off dump (an e2e's).
      const half = Math.floor(chunk.length / 2);
      this.push(chunk.subarray(0, half));
      ctx.pause('admin-backup:streaming').then(() => callback(null, chunk.subarray(half)), callback);
    },
    flush(callback) {
      dump.ended.then(() => {
        if (!tail.toString('utf8').includes(dumpCompleteMarker)) throw new TenantctlError('adminDb', `pg_dump of the admin database ended without "${dumpCompleteMarker}" after ${bytes} bytes`);
        callback();
      }).catch((error) => {
        dumpFailure = error;
        callback(error);
      });
    },
  });
  dump.stdout!.pipe(counted);
  let summary: { snapshot_id?: string };
  try {
    summary = await repo.json<{ snapshot_id?: string }>(resticBackupArgs(ctx.homeHost.id, tags), { stdin: counted, timeoutMs: adminDumpTimeoutMs, signal: ctx.signal });
    await dump.ended;
  } catch (error) {
    // pg_dump's failure is the first cause; restic stopping on it is its consequence.
    throw dumpFailure ?? (await dump.ended.then(() => error, (first) => first));
  }
  if (!summary.snapshot_id) throw new TenantctlError('repository', 'restic backup printed no snapshot id');
  const durationMs = ctx.clock.now() - started;
  await db.withTransaction((client) => recordAudit(db, client, null, 'admin.backed-up', null, { snapshot: summary.snapshot_id, repository: repo.location.display, bytes }));
  return {
    snapshot: summary.snapshot_id, repository: repo.location.display, host: ctx.homeHost.id, file: adminDumpName, tags: ['kind=admin', ...tags], bytes, durationMs,
    MBps: Math.round((bytes / 1e6 / Math.max((ctx.clock.now() - dumpStarted) / 1000, 0.001)) * 100) / 100,
  };
}
