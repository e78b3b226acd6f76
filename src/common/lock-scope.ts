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

/** Runs `work` in a new scope nested in the current one. */
export function inOwnLockScope<T>(work: () => Promise<T>): Promise<T> {
  return current.run({ parent: current.getStore() }, work);
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
  for (let scope: LockScope | undefined = from; scope; scope = scope.parent) if (scope === owner) return true;
  return false;
}
