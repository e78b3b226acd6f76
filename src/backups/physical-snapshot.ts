import type { Context } from '../context.js';
import { TenantctlError, usageError } from '../common/errors.js';
import { lastErrorLine } from '../common/exec.js';
import { dumpRestoreTimeoutMs } from '../common/timeouts.js';
import { dockerToFile, type StreamResult, type StreamSink } from '../engine/docker-stream.js';
import { execIn, postgresSuperuser } from './containers.js';
import { pieceContainer, type Piece } from './pieces.js';
import type { SnapshotContext } from './piece-snapshots.js';

// A physical backup of a tenant's PostgreSQL (`backup --physical`, plans.<plan>.backupMethod):
// `pg_basebackup -D - -Ft -X fetch` in the tenant's own container, over its local socket as the
// superuser, one tar of the whole cluster with the WAL it needs inside it (self-contained: no WAL
// archive is needed to start it), streamed into `restic backup --stdin`. restic's content-defined
// chunking finds the unchanged pages of the previous backup's tar, so an unchanged 1 GB tenant
// adds a few MB (its new WAL) and takes seconds instead of pg_dump's minutes. The tar is restored
// by swapping the data volume's content (src/pitr/restore-physical.ts), so only the same major
// version can start it. The tenant's other pieces (crm's Redis, SQLite files, volumes) go into the
// same backup as a logical backup takes them (pieceMethod; piece-snapshots.ts) and are restored as
// a logical restore stages and swaps them (physical-other-pieces.ts), in the same journaled restore.

export type BackupMethod = 'logical' | 'physical';

/** The file a physical piece is saved as (restic's --stdin-filename under tenantctl/<tenant>/). */
export const physicalFile = (piece: Pick<Piece, 'name'>) => `${piece.name}.pgdata.tar`;

/** --physical, else the plan's backupMethod (default logical). */
export function backupMethodFor(ctx: Pick<Context, 'config'>, plan: string, physical?: boolean): BackupMethod {
  if (physical) return 'physical';
  return ctx.config.plans[plan as keyof Context['config']['plans']]?.backupMethod ?? 'logical';
}

/**
 * Why a physical backup cannot take a tenant with these pieces (undefined: it can). It takes the one
 * PostgreSQL cluster file-level and every other piece (Redis, SQLite, volumes) in the same backup the
 * way a logical backup takes it; a template with no PostgreSQL piece has no cluster to take, and one
 * with two would need a cluster per piece (restored piece by piece, which a physical restore is not).
 */
export function physicalRefusal(pieces: readonly Pick<Piece, 'name' | 'kind'>[]): string | undefined {
  const pg = pieces.filter((p) => p.kind === 'postgres');
  if (pg.length === 1) return undefined;
  return `it has ${pg.length} PostgreSQL pieces (its template and profiles; a physical backup takes exactly one cluster)`;
}

/**
 * How a backup takes each piece: a physical backup takes its one PostgreSQL piece physically and
 * every other piece logically (piece-snapshots.ts, as a logical backup does); a logical backup
 * takes them all logically. Pure: unit-tested.
 */
export function pieceMethod(piece: Pick<Piece, 'kind'>, method: BackupMethod | undefined): BackupMethod {
  return method === 'physical' && piece.kind === 'postgres' ? 'physical' : 'logical';
}

export interface MethodChoice { method: BackupMethod; warning?: string }

/**
 * The method a tenant's backup takes: --physical (asked) is refused (exit 2) for a tenant whose
 * state has not exactly one PostgreSQL piece, or whose plan has pitr (its base backups are physical
 * already); a plan's backupMethod physical falls back to logical for such a tenant, or without a
 * repository, with a warning the result carries. Pure: unit-tested.
 */
export function chooseBackupMethod(input: {
  tenant: string; plan: string; pieces: readonly Pick<Piece, 'name' | 'kind'>[];
  asked?: BackupMethod; planMethod: BackupMethod; pitr: boolean; repository: boolean;
}): MethodChoice {
  const { tenant, plan } = input;
  if (input.asked === 'logical') return { method: 'logical' };
  const refusal = physicalRefusal(input.pieces);
  if (input.asked === 'physical') {
    if (input.pitr) throw usageError(`--physical: ${tenant}'s plan ${plan} has point-in-time recovery (its backups take a physical base backup already): back it up without --physical`);
    if (refusal) throw usageError(`--physical: ${tenant} cannot be backed up physically: ${refusal}; back it up without --physical`);
    return { method: 'physical' };
  }
  if (input.planMethod !== 'physical') return { method: 'logical' };
  if (!input.repository) return { method: 'logical', warning: `plans.${plan}.backupMethod is physical, but there is no backups.repository: ${tenant} is backed up logically` };
  if (input.pitr) return { method: 'logical', warning: `plans.${plan}.backupMethod is physical and the plan has pitr: ${tenant} is backed up logically` };
  if (refusal) return { method: 'logical', warning: `plans.${plan}.backupMethod is physical, but ${refusal}: ${tenant} is backed up logically` };
  return { method: 'physical' };
}

/**
 * The one PostgreSQL piece a physical backup takes physically. A template with none, or with more
 * than one, cannot (a cluster per piece would be a backup restored piece by piece, which this is not).
 */
export function physicalPiece(pieces: readonly Piece[], tenant: string, template: string): Piece {
  const pg = pieces.filter((p) => p.kind === 'postgres');
  if (pg.length !== 1) throw usageError(`a physical backup takes the one PostgreSQL cluster of a tenant, and ${tenant}'s template ${template} declares ${pg.length} postgres state pieces: back it up logically (without --physical; plans.<plan>.backupMethod: logical)`);
  return pg[0]!;
}

/** The base backup streamed into `sink`, its tar header checked; what the manifest records of it. */
export async function snapshotPhysical(s: SnapshotContext, piece: Piece, sink: StreamSink): Promise<StreamResult & { image: string; imageId: string; version: string; major: number }> {
  const { ctx } = s;
  const container = await pieceContainer(ctx, s.project, piece);
  if (!container.running) throw new TenantctlError('conflict', `the ${piece.service} container of ${s.tenant} is not running (tenantctl start ${s.tenant})`);
  const superuser = await postgresSuperuser(ctx.dockerHost, container.id, piece.user!, ctx.signal);
  const versionNum = (await execIn(ctx.dockerHost, container.id, ['psql', '-X', '-A', '-t', '-h', '/run/postgresql', '-U', superuser, '-d', 'postgres', '-c', 'SHOW server_version_num'], { what: 'asking PostgreSQL for its version', signal: ctx.signal })).trim();
  const major = Math.floor(Number(versionNum) / 10_000);
  if (!Number.isInteger(major) || major < 10) throw new TenantctlError('docker', `could not read the PostgreSQL version of ${s.tenant}'s ${piece.name} (server_version_num ${JSON.stringify(versionNum)})`);
  // -X fetch: the WAL from the backup's start to its end goes into the tar (streaming cannot be with
  // tar on stdout); --checkpoint=fast: an operator's backup starts now, not at the next checkpoint.
  const base = await dockerToFile(ctx.dockerHost, ['exec', container.id, 'pg_basebackup', '-h', '/run/postgresql', '-U', superuser, '-D', '-', '-Ft', '-X', 'fetch', '--checkpoint=fast', '--no-manifest', '--no-password'], sink, { timeoutMs: dumpRestoreTimeoutMs, signal: ctx.signal });
  if (base.exitCode !== 0) {
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', `interrupted while pg_basebackup of ${s.tenant} ran`);
    throw new TenantctlError('docker', `pg_basebackup of ${s.tenant}'s ${piece.name} failed (exit ${base.exitCode}): ${lastErrorLine(base.stderrTail)}`);
  }
  if (base.bytes < 1024 || base.head.subarray(257, 262).toString('latin1') !== 'ustar') {
    throw new TenantctlError('docker', `the physical backup of ${s.tenant}'s ${piece.name} is not a tar archive (${base.bytes} bytes)`);
  }
  return { ...base, image: container.image, imageId: container.imageId, version: `PostgreSQL ${versionNum}`, major };
}
