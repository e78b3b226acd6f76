import type { Context } from '../context.js';
import { messageOf, usageError } from '../common/errors.js';
import type { TenantRuntime } from '../runtime/tenant-runtime.js';
import type { ComposeTarget } from '../stack/compose-argv.js';
import { servicesOf } from '../tenants/day2-target.js';
import { corrupt, logicalPiecesOf, physicalPieceOf, type BackupManifest } from './manifest.js';
import type { Piece } from './pieces.js';
import { piecesFitProblems } from './pieces-fit.js';
import { clientsOf, dropReplaced, putStateBack, stagePiece, swapPiece, type RestoreStack } from './restore-data.js';
import { backupReader } from './source.js';
import { repositoryRef } from './in-repository.js';

// A physical backup of a tenant with more state than its PostgreSQL cluster (crm: db and redis)
// holds its other pieces as a logical backup takes them (pieceMethod): the physical restore
// (src/pitr/restore-physical.ts, through restore-to-time.ts's steps) puts them back as a logical
// restore does (restore-data.ts, piece-files.ts), inside its own journaled operation:
//   staged          the cluster staged in its data volume (as for a PostgreSQL-only backup)
//   pieces-staged   each other piece staged beside the live one in its volume, the tenant running
//   stopped         the clients (every service but PostgreSQL) stopped, then the database service
//   swapped         the cluster swapped in
//   pieces-swapped  each other piece's live files set aside, the backup's moved in
// An undo puts every piece back from what is there (putStateBack: it looks, so it runs from any
// point); once proven, what each piece set aside goes. Names come from the operation's suffix.

/** What the restore records of the backup's other pieces when it begins: each one's kind and file. */
export type OtherPieceFiles = Record<string, { kind: Piece['kind']; file: string }>;

/** The pieces a physical backup took logically, as its restore records them (undefined: none, a PostgreSQL-only backup). */
export function otherPieceFiles(manifest: Pick<BackupManifest, 'pieces'> & Partial<Pick<BackupManifest, 'id'>>): OtherPieceFiles | undefined {
  // A physical backup takes its one PostgreSQL cluster physically: a postgres piece taken the logical way beside it is no backup tenantctl makes.
  const pg = !physicalPieceOf(manifest) ? [] : Object.entries(logicalPiecesOf(manifest)).filter(([, p]) => p.kind === 'postgres').map(([name]) => name);
  if (pg.length > 0) throw corrupt(manifest.id ?? 'the physical backup', `its manifest names ${pg.join(', ')} (postgres) beside its physical cluster: a physical backup holds one PostgreSQL piece`);
  const others = Object.entries(logicalPiecesOf(manifest)).map(([name, p]) => [name, { kind: p.kind, file: p.file }] as const);
  return others.length > 0 ? Object.fromEntries(others) : undefined;
}

/**
 * A physical backup restored into `tenant` must hold exactly its pieces (the same names and kinds):
 * refused (exit 2) before anything is recorded or changed, as a logical restore refuses.
 */
export function requirePhysicalFit(backup: string, tenant: string, manifest: Pick<BackupManifest, 'pieces'>, pieces: readonly Pick<Piece, 'name' | 'kind'>[]): void {
  const problems = piecesFitProblems(tenant, manifest.pieces, pieces);
  if (problems.length > 0) throw usageError(`backup ${backup} does not fit ${tenant}: ${problems.join('; ')}; nothing was changed`);
}

/** The tenant's pieces the backup holds logically, each with the backup's file (pure). */
export function otherPiecesFor(tenant: string, pieces: readonly Piece[], others: OtherPieceFiles): Piece[] {
  const missing = Object.entries(others).filter(([name, o]) => !pieces.some((p) => p.name === name && p.kind === o.kind));
  if (missing.length > 0) throw usageError(`${tenant} has no ${missing.map(([name, o]) => `${name} (${o.kind})`).join(', ')} for the backup's pieces (its template or profiles differ)`);
  return pieces.filter((p) => Object.hasOwn(others, p.name)).map((p) => ({ ...p, file: others[p.name]!.file }));
}

/** The tenant's stack as the logical steps see it: every service but its PostgreSQL server is a client. */
export function otherPiecesStack(dst: {
  t: { record: { id: string; composeProject: string; profiles: readonly string[] }; target: ComposeTarget };
  state: { rendered: string; pieces: readonly Piece[] };
  runtime: TenantRuntime;
}): RestoreStack {
  const { t, state, runtime } = dst;
  return { id: t.record.id, project: t.record.composeProject, target: t.target, clients: clientsOf(servicesOf(state.rendered, t.record.profiles), state.pieces), runtime };
}

/** Each other piece staged beside the live one (read out of the repository as a logical restore reads it), the tenant running. */
export async function stageOtherPieces(ctx: Context, stack: RestoreStack, pieces: readonly Piece[], backup: string, suffix: string): Promise<void> {
  const reader = await backupReader(ctx, repositoryRef(backup));
  for (const piece of pieces) {
    ctx.reporter.step(`staging ${piece.name} of ${backup} beside the live one while ${stack.id} runs`);
    await stagePiece(ctx, stack, piece, reader.input(piece.file), suffix, backup);
  }
}

/** Each other piece swapped in (its service stopped); what it replaces stays aside until the tenant is proven. */
export async function swapOtherPieces(ctx: Context, stack: RestoreStack, pieces: readonly Piece[], suffix: string): Promise<void> {
  for (const piece of pieces) {
    ctx.reporter.step(`swapping in ${piece.name} (what it replaces stays aside until ${stack.id} is ready)`);
    await swapPiece(ctx, stack, piece, suffix);
  }
}

/** Undo: each other piece's own files back from wherever the restore got to; what was kept of the restored ones (keepRestored: the restored stack ran). */
export async function putOtherPiecesBack(ctx: Context, stack: RestoreStack, pieces: readonly Piece[], suffix: string, keepRestored: boolean): Promise<string[]> {
  ctx.reporter.step(`putting ${pieces.map((p) => p.name).join(', ')} of ${stack.id} back as they were`);
  return putStateBack(ctx, stack, pieces, suffix, { keepRestored });
}

/** Proven: what each other piece set aside goes; a failure is said and returned (the state is restored), never fatal. */
export async function dropOtherPieces(ctx: Context, stack: RestoreStack, pieces: readonly Piece[], suffix: string): Promise<string[]> {
  const problems = await dropReplaced(ctx, stack, pieces, suffix).catch((error: unknown) => [`what the restore replaced of ${pieces.map((p) => p.name).join(', ')} could not be removed (${messageOf(error)}); remove it by hand`]);
  for (const problem of problems) ctx.reporter.info(problem);
  return problems;
}
