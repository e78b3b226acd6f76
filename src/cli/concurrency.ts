import os from 'node:os';

/**
 * How many tenants a batch works on at once unless told: what the host can take. A provision is
 * mostly waiting (compose, PostgreSQL's first start), so two per core keeps the cores busy without
 * piling up start-ups; at least 2, at most 8.
 */
export function defaultConcurrency(cores = os.availableParallelism()): number {
  return Math.max(2, Math.min(8, cores * 2));
}
