import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { recordAudit } from '../audit/write.js';
import { TenantRegistry } from '../tenants/registry.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import type { FindingKind } from './findings.js';

// The effects of `doctor --fix`, journaled (verb 'doctor-fix'): what one repair will remove or
// release is recorded, by id, before it is done, under the tenant's lock, so a repair killed half-way
// is finished by the next command on the tenant exactly as it was decided (never re-judged from a
// later, different picture), and no other verb runs on the tenant meanwhile. Never a volume.

export interface RepairIntent {
  kind: FindingKind;
  /** Containers and networks to remove, by id (an orphan stack's, a stuck provision's). */
  containers: string[];
  networks: string[];
  /** Release the tenant's allocations held on these host names (a stray allocation). */
  releaseOn?: string[];
  /** Remove this folder of customersDir (a stale folder). */
  folder?: string;
  /** Record the tenant failed (an interrupted provision nobody works on). */
  markFailed?: boolean;
}

/** One repair, journaled: the intent, the effect, the record closed. The caller holds the tenant's lock. */
export async function repairJournaled(ctx: Context, tenant: string, intent: RepairIntent): Promise<void> {
  const journal = new OperationJournal(await ctx.adminDb());
  const op = await journal.begin<RepairIntent>({ tenant, verb: 'doctor-fix', host: ctx.dockerHost.id, data: intent });
  await ctx.pause('doctor:repairing');
  await applyRepair(ctx, journal, op);
}

async function applyRepair(ctx: Context, journal: OperationJournal, op: Operation<RepairIntent>): Promise<void> {
  const db = journal.db;
  const { containers, networks, releaseOn, folder, markFailed } = op.data;
  // Whatever is already gone was removed by the run that recorded this: removing is done by id, each once.
  // Never -v: a stuck provision of kept data or of adopted containers may hold the tenant's own
  // anonymous volumes; volumes go only with deprovision (its anonymous ones too).
  for (const id of containers) await removeIfPresent(ctx, ['rm', '-f', id]);
  for (const id of networks) await removeIfPresent(ctx, ['network', 'rm', id]);
  if (folder) await rm(path.join(ctx.config.customersDir, folder), { recursive: true, force: true });
  if (markFailed) {
    const row = await new TenantRegistry(db).get(op.tenant);
    if (row && (row.status === 'provisioning' || row.status === 'deprovisioning')) {
      await new TenantRegistry(db).markFailed(op.tenant, 'interrupted; recorded as failed by tenantctl doctor --fix');
    }
  }
  await journal.finish(op, 'completed', null, async (client) => {
    if (!releaseOn) return;
    const { rows } = await client.query(
      `DELETE FROM admin_allocations a WHERE a.customer_id = $1 AND a.host = ANY($2::text[])
         AND NOT EXISTS (SELECT 1 FROM admin_customers c WHERE c.id = a.customer_id AND c.status IN ('provisioning', 'active', 'stopped', 'suspended', 'deprovisioning'))
       RETURNING kind, value`,
      [op.tenant, releaseOn],
    );
    if (rows.length > 0) await recordAudit(db, client, op.tenant, 'doctor.released', { allocations: rows }, null);
  });
}

async function removeIfPresent(ctx: Context, args: string[]): Promise<void> {
  try {
    await ctx.dockerHost.docker(args);
  } catch (error) {
    if (error instanceof TenantctlError && /No such|not found/i.test(error.message)) return;
    throw error;
  }
}

/** Settles a repair a killed doctor left: finished as it was recorded. */
export async function resumeRepair(ctx: Context, op: Operation<RepairIntent>): Promise<'finished' | 'undone'> {
  await applyRepair(ctx, new OperationJournal(await ctx.adminDb()), op);
  return 'finished';
}
