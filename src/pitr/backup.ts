import type { Context } from '../context.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { LostLockError } from '../admin-db/database.js';
import { shippingLock, tryShippingLock } from './ship-lock.js';
import { holdTenant } from '../tenants/hold.js';
import { requireTenantFor } from '../tenants/day2-target.js';
import { TenantRegistry } from '../tenants/registry.js';
import { tenantState } from '../backups/tenant-state.js';
import { pitrService } from '../templates/wal-archive.js';
import { archivingContainer, switchAndWaitArchived } from './archive.js';
import { recordShipping, shipWal, type ShipResult } from './ship.js';
import { recordBase, takeBaseBackup, type BaseBackupResult } from './base-backup.js';
import { holdRepositoryShared } from './repo-hold.js';
import { baseTags, openPitrRepository, snapshotsTagged, type PitrRepository } from './repo.js';
import { prunePitr, pitrRetentionOf, type PitrPruneResult } from './retention.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { ensureIncarnation } from './incarnation.js';

// What `backup` does for a tenant whose plan has point-in-time recovery, after its usual backup:
// what waits set aside in the archive shipped, a physical base backup into the repository, then the
// current segment closed, archived and shipped, so the new base can be restored to at once. And
// shipping alone (the agent's loop).

export interface PitrBackupResult {
  base: BaseBackupResult;
  shipped: number;
  /** What retention (plans.<plan>.pitrRetention) forgot after this base: older bases and WAL no kept base needs. */
  pruned: PitrPruneResult;
}

/** Whether the tenant's plan has PITR on (plans.<plan>.pitr). */
export const pitrOn = (ctx: Pick<Context, 'config'>, plan: string) => ctx.config.plans[plan as keyof Context['config']['plans']]?.pitr === true;

interface Where { tenant: string; container: string; anyRole: string }

async function archiveOf(ctx: Context, id: string): Promise<Where> {
  const t = await requireTenantFor(ctx, id, 'have its WAL shipped', ['active', 'suspended']);
  const state = await tenantState(ctx, await ctx.adminDb(), t, 'have its WAL shipped');
  const service = pitrService(state.template.block, state.template.name);
  const piece = state.pieces.find((p) => p.kind === 'postgres' && p.service === service);
  const container = await archivingContainer(ctx, t.record.composeProject, service, id);
  return { tenant: id, container: container.id, anyRole: piece?.user ?? 'postgres' };
}

/** A base backup of a PITR tenant into the repository, under its lock, with what waits set aside shipped before it and its WAL after it. */
export async function pitrBaseBackup(ctx: Context, id: string): Promise<PitrBackupResult> {
  const repo = await openPitrRepository(ctx);
  const db = await ctx.adminDb();
  const release = await holdTenant(ctx, id);
  const shipping = await shippingLock(ctx, id).catch(async (error) => { await release(); throw error; });
  try {
    const where = await archiveOf(ctx, id);
    // What another cluster archived (set aside by a restore) ships before the base begins, so the
    // base's WAL window holds none of it. One run ships at most 8 batches (ship.ts shipFolder), so
    // some may wait until after the base: that no longer matters. Such batches are tagged aside=1 and
    // wal-for-base.ts does not read them as the database made anew (only batches from the archive root
    // do), so they refuse no later target from this base; the rest ship after the base, below.
    // (Batches set aside and shipped by a tenantctl before the tag are untagged: still read as such.)
    const asideShipped = await shipAndRecord(ctx, repo, where, { asideOnly: true });
    ctx.reporter.step(`taking a physical base backup of ${id} into ${repo.location.display} (point-in-time recovery)`);
    // The cluster's incarnation, made now if it has none: the base copies the file, and its row and tag name it.
    const incarnation = await ensureIncarnation(ctx, where.container, where.anyRole);
    const held = await holdRepositoryShared(ctx);
    const base = await takeBaseBackup(ctx, repo, where, incarnation).finally(held);
    // restic 0.14's summary names the snapshot by its 8-hex short id: the row records the full one.
    base.snapshotId = await fullBaseId(ctx, repo, id, base.snapshotId);
    await switchAndWaitArchived(ctx, where.container, where.anyRole);
    const shipped = await shipAndRecord(ctx, repo, where);
    // Only now can a restore finish from it: the WAL to its end is in the repository.
    await recordBase(db, repo.location.display, id, base);
    // A new base is what lets older ones (and the WAL only they replay) go.
    const record = await new TenantRegistry(db).require(id);
    // Retention failing is a warning of the backup (exit 0): the base is recorded and the next
    // base backup chooses again. Ctrl-C and a lost admin lock still stop the command.
    const pruned = await prunePitr(ctx, repo, id, pitrRetentionOf(ctx, record.plan)).catch((error: unknown): PitrPruneResult => {
      if (ctx.signal.aborted || error instanceof LostLockError) throw error;
      const warning = `PITR retention of ${id} failed: ${messageOf(error)}${error instanceof TenantctlError && error.details.length > 0 ? ` (${error.details.join('; ')})` : ''}`;
      ctx.reporter.info(`warning: ${warning}`);
      return { bases: 0, wal: 0, warning };
    });
    return { base, shipped: asideShipped.shipped + shipped.shipped, pruned };
  } finally {
    await shipping();
    await release();
  }
}

/**
 * The full id of the base snapshot `short` names (the tenant's lock is held: no other base of it is
 * being written). Two of its base snapshots sharing the prefix, or none listed: the short id stays
 * (retention then refuses to forget by it rather than guess).
 */
async function fullBaseId(ctx: Context, repo: PitrRepository, tenant: string, short: string): Promise<string> {
  const matches = (await snapshotsTagged(ctx, repo, baseTags(tenant))).filter((s) => s.id.startsWith(short));
  return matches.length === 1 ? matches[0]!.id : short;
}

async function shipAndRecord(ctx: Context, repo: PitrRepository, where: Where, options?: { asideOnly?: boolean }): Promise<ShipResult> {
  const db = await ctx.adminDb();
  try {
    const result = await shipWal(ctx, repo, where, options);
    await recordShipping(db, where.tenant, result, { rootTried: !options?.asideOnly });
    return result;
  } catch (error) {
    await recordShipping(db, where.tenant, { error }).catch(ignoreFailure('the shipment\'s own failure is the cause thrown; the lag shows it unrecorded'));
    throw error;
  }
}

/**
 * Ships the WAL of every active PITR tenant on this Docker host (the agent's loop). A tenant whose
 * shipping lock another tenantctl holds is left for the next round; each tenant's failure is
 * recorded on its row (status shows it) and returned, never stops the others.
 */
export async function shipAll(ctx: Context): Promise<{ shipped: Record<string, number>; failed: Record<string, string> }> {
  const db = await ctx.adminDb();
  const tenants = (await new TenantRegistry(db).list({ status: 'active' })).filter((t) => t.host === ctx.dockerHost.id && pitrOn(ctx, t.plan));
  const shipped: Record<string, number> = {};
  const failed: Record<string, string> = {};
  if (tenants.length === 0) return { shipped, failed };
  const repo = await openPitrRepository(ctx);
  for (const t of tenants) {
    if (ctx.signal.aborted) break;
    // Another shipper (a backup, a to-time restore) has it now: this round leaves it.
    const release = await tryShippingLock(ctx, t.id);
    if (!release) continue;
    try {
      shipped[t.id] = (await shipAndRecord(ctx, repo, await archiveOf(ctx, t.id))).shipped;
    } catch (error) {
      failed[t.id] = messageOf(error);
    } finally {
      await release();
    }
  }
  return { shipped, failed };
}

/**
 * `backup`'s result (one tenant's, or a batch's) with a PITR base backup added (`pitr`) for each
 * tenant backed up whose plan has PITR. A base backup that fails fails the command (the usual
 * backup stays recorded): a PITR tenant without a recent base cannot be restored to later moments.
 */
export async function withPitrBases<T extends object>(ctx: Context, result: T): Promise<T> {
  const registry = new TenantRegistry(await ctx.adminDb());
  const add = async (one: { tenant?: unknown; pitr?: PitrBackupResult }) => {
    const record = typeof one.tenant === 'string' ? await registry.get(one.tenant) : undefined;
    if (record && pitrOn(ctx, record.plan)) one.pitr = await pitrBaseBackup(ctx, record.id);
  };
  const batch = result as { kind?: string; tenants?: Array<{ ok: boolean; result?: { tenant?: unknown } }> };
  if (batch.kind === 'batch') {
    for (const t of batch.tenants ?? []) if (t.ok && t.result) await add(t.result);
  } else {
    await add(result as { tenant?: unknown });
  }
  return result;
}
