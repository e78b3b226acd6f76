import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

// stop, start and restart share their shape: one or several ids, a result (or a batch summary,
// exit 9 when some failed). Ctrl-C ends them without a rollback: there is nothing to undo, a start
// interrupted while waiting leaves the stack starting.

export async function runLifecycle(command: Command, verb: 'stop' | 'start' | 'restart', ids: string[], services: string[] = []): Promise<void> {
  const lifecycle = await import('../../tenants/lifecycle.js');
  const { renderLifecycle, renderLifecycleBatch } = await import('../../tenants/day2-render.js');
  const one = (ctx: Parameters<typeof lifecycle.stopTenant>[0], id: string) =>
    verb === 'stop' ? lifecycle.stopTenant(ctx, id) : verb === 'start' ? lifecycle.startTenant(ctx, id) : lifecycle.restartTenant(ctx, id, { services });
  if (ids.length === 1) return withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => one(ctx, ids[0]!)), renderLifecycle, { onInterrupt: 'end', tenantIds: ids });
  await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => lifecycle.lifecycleBatch(ctx, verb, ids, one)), renderLifecycleBatch, { onInterrupt: 'end', tenantIds: ids });
}
