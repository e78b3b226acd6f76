import type { Piece } from './pieces.js';

/**
 * Why a backup's pieces do not fit a tenant's (empty: they do). A restore puts back exactly the
 * pieces the tenant has now: the same names and kinds, none missing and none extra (its template or
 * profiles changed since the backup). Pure: the logical and the physical restore refuse on it.
 */
export function piecesFitProblems(tenant: string, inBackup: Record<string, { kind: string }>, pieces: readonly Pick<Piece, 'name' | 'kind'>[]): string[] {
  return [
    ...pieces.filter((p) => inBackup[p.name]?.kind !== p.kind).map((p) => `${p.name} (${p.kind}) is not in it`),
    ...Object.entries(inBackup).filter(([name]) => !pieces.some((p) => p.name === name)).map(([name, p]) => `it has ${name} (${p.kind}), which ${tenant} has not (its template or profiles differ)`),
  ];
}
