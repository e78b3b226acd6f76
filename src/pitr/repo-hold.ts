import type { Context } from '../context.js';
import { holdRepository } from '../repository/hold.js';
import { configuredRepository } from '../repository/location.js';

// PITR's restic writers and readers (a WAL batch shipped, a base backup, a to-time restore's dump)
// hold the repository shared like every backup (repository/hold.ts): a forget+prune (exclusive, the
// retention of any tenant) never runs while they stream, and they never start while it runs.

/** The repository's shared hold for one restic run; released by the returned function. */
export async function holdRepositoryShared(ctx: Context): Promise<() => Promise<void>> {
  const location = configuredRepository(ctx.config);
  return location ? holdRepository(await ctx.adminDb(), location, 'shared') : async () => {};
}
