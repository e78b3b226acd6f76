// restic lock errors: a stale lock is unlocked once, a live one waited for with backoff, for a bounded time (src/repository/lock-retry.ts).
import { describe, expect, it } from 'vitest';
import { TenantctlError } from '../../src/common/errors.js';
import { withLockRetry } from '../../src/repository/lock-retry.js';

const locked = () => new TenantctlError('conflict', 'restic forget on /r failed: unable to create lock in backend: repository is already locked by PID 4242 on h1');

function fakeClock() {
  let t = 0;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => { slept.push(ms); t += ms; }, slept };
}

describe('restic lock retry', () => {
  it('unlocks a stale lock once and retries (restic killed with -9 left it)', async () => {
    const clock = fakeClock();
    let stale = true;
    let unlocks = 0;
    const result = await withLockRetry(async () => { if (stale) throw locked(); return 'ok'; }, { waitMs: 60_000, ...clock, unlock: async () => { unlocks += 1; stale = false; } });
    expect(result).toBe('ok');
    expect(unlocks).toBe(1);
    expect(clock.slept).toEqual([]);
  });

  it('waits with backoff for a live lock, then gives up with exit 5 naming restic unlock', async () => {
    const clock = fakeClock();
    let unlocks = 0;
    const error = await withLockRetry(async () => { throw locked(); }, { waitMs: 10_000, ...clock, unlock: async () => { unlocks += 1; } }).catch((e: unknown) => e);
    expect(unlocks).toBe(1);
    expect(clock.slept).toEqual([1000, 2000, 4000]);
    expect(error).toBeInstanceOf(TenantctlError);
    expect((error as TenantctlError).kind).toBe('conflict');
    expect((error as TenantctlError).message).toMatch(/restic unlock/);
  });

  it('gets the lock once a live holder is done, and passes other errors on at once', async () => {
    const clock = fakeClock();
    let calls = 0;
    expect(await withLockRetry(async () => { calls += 1; if (calls < 4) throw locked(); return calls; }, { waitMs: 60_000, ...clock, unlock: async () => {} })).toBe(4);
    const other = new TenantctlError('repository', 'restic forget failed: connection refused');
    await expect(withLockRetry(async () => { throw other; }, { waitMs: 60_000, ...clock, unlock: async () => { throw new Error('not called'); } })).rejects.toBe(other);
  });
});
