import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Whose locks a fence check is about. One process works on several tenants at once (a batch, later
 * the agent's jobs): each task runs in its own scope, the advisory locks it takes belong to that
 * scope, and a task's fence check (AdminDb.requireLocks) asks about its own locks and those of the
 * scopes around it, never a sibling's. Without scopes, one tenant's lost lock (its connection
 * broke) stopped every other tenant of the batch with an error that was not theirs.
 */
export interface LockScope {
  readonly parent?: LockScope;
}

const current = new AsyncLocalStorage<LockScope>();

/**
 * Runs `work` in a new scope nested in the current one, or in `parent` when given (a job started
 * from a caller's context, e.g. a request's submit, still belongs to the loop that runs it).
 */
export function inOwnLockScope<T>(work: () => Promise<T>, parent: LockScope | undefined = current.getStore()): Promise<T> {
  return current.run({ parent }, work);
}

/** The scope the caller runs in; undefined at the top of the process. */
export function currentLockScope(): LockScope | undefined {
  return current.getStore();
}

/**
 * Whether a lock taken in `owner` concerns a check made in `from`: a lock taken at the top concerns
 * everyone, and a check made at the top concerns every lock; otherwise `owner` must be `from` or
 * one of the scopes around it.
 */
export function concerns(owner: LockScope | undefined, from: LockScope | undefined): boolean {
  if (owner === undefined || from === undefined) return true;
  return within(owner, from);
}

/**
 * Whether a task running in `from` may take again a lock this process took in `owner` (tryLock's
 * re-entry: a verb calling another verb on the same tenant). Only the task that took it, or a task
 * nested in it, may: a lock taken at the top is every task's, but one a sibling task holds (another
 * job of the agent, another tenant's work of a batch) is refused as another process's lock is, so
 * two jobs of one process never work on one tenant at once, and one job's end (its release) or lost
 * lock never leaves another job working without the lock it thought it had.
 */
export function mayReenter(owner: LockScope | undefined, from: LockScope | undefined): boolean {
  if (owner === undefined) return true;
  if (from === undefined) return false;
  return within(owner, from);
}

function within(owner: LockScope, from: LockScope): boolean {
  for (let scope: LockScope | undefined = from; scope; scope = scope.parent) if (scope === owner) return true;
  return false;
}
