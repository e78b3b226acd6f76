import { BatchFailure, TenantctlError, usageError } from '../common/errors.js';
import type { Context } from '../context.js';
import { deprovision, type DeprovisionResult } from './deprovision.js';
import { runBatch, type BatchItem } from './batch.js';

export interface DeprovisionBatchResult {
  kind: 'batch';
  tenants: BatchItem<DeprovisionResult>[];
  summary: { total: number; deprovisioned: number; failed: number; durationMs: number };
}

/** Deprovisions several tenants, `concurrency` at a time; exit 9 (BatchFailure) if any failed. */
export async function deprovisionBatch(
  ctx: Context,
  { ids, confirmed, keepData, concurrency }: { ids: string[]; confirmed: boolean; keepData?: boolean; concurrency: number },
): Promise<DeprovisionBatchResult> {
  const started = ctx.clock.now();
  if (!confirmed) throw new TenantctlError('refused', `not deprovisioning ${ids.length} tenants without confirmation; pass --yes`);
  if (new Set(ids).size !== ids.length) throw usageError('a tenant is listed twice');
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) throw usageError('--concurrency must be a whole number from 1 to 32');
  await ctx.adminDb();
  const tenants = await runBatch(ids, concurrency, (id) => deprovision(ctx, { id, confirmed, keepData }), ctx.signal);
  const failed = tenants.filter((t) => !t.ok).length;
  const result: DeprovisionBatchResult = {
    kind: 'batch',
    tenants,
    summary: { total: ids.length, deprovisioned: ids.length - failed, failed, durationMs: ctx.clock.now() - started },
  };
  if (failed > 0) throw new BatchFailure(result, `${failed} of ${ids.length} tenants could not be deprovisioned`);
  return result;
}
