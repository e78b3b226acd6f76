import { TenantctlError, messageOf } from '../common/errors.js';
import { inOwnLockScope } from '../common/lock-scope.js';

export type BatchItem<T> =
  | { id: string; ok: true; result: T }
  | { id: string; ok: false; error: { code: string; exitCode: number; message: string } };

/**
 * Runs `work` for every id with at most `concurrency` in flight, in input order. A failure is
 * recorded for its tenant and the others go on: one bad tenant must not stop a batch. Each tenant's
 * work runs in its own lock scope, so its fence checks are about its own locks only.
 */
export async function runBatch<T>(ids: string[], concurrency: number, work: (id: string) => Promise<T>, signal?: AbortSignal): Promise<BatchItem<T>[]> {
  const results: BatchItem<T>[] = new Array(ids.length);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const index = next++;
      const id = ids[index]!;
      if (signal?.aborted) {
        results[index] = { id, ok: false, error: { code: 'interrupted', exitCode: 130, message: 'not started: interrupted' } };
        continue;
      }
      try {
        results[index] = { id, ok: true, result: await inOwnLockScope(() => work(id)) };
      } catch (error) {
        const typed = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error));
        results[index] = { id, ok: false, error: { code: typed.kind, exitCode: typed.exitCode, message: typed.message } };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, ids.length)) }, worker));
  return results;
}
