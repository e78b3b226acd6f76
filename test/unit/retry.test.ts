import { describe, expect, it } from 'vitest';
import { done, notYet, retryUntilDeadline } from '../../src/common/retry.js';
import { TenantctlError } from '../../src/common/errors.js';
import type { Clock } from '../../src/common/clock.js';

/** A clock whose sleeps only move time forward; records each pause. */
function fakeClock(): Clock & { pauses: number[] } {
  let now = 0;
  const pauses: number[] = [];
  return {
    pauses,
    now: () => now,
    async sleep(ms, signal) {
      if (signal?.aborted) throw new Error('aborted');
      pauses.push(ms);
      now += ms;
    },
  };
}

const deadline = (why: string) => new TenantctlError('notReady', `gave up: ${why}`);

describe('retryUntilDeadline', () => {
  it('backs off from 100 ms doubling to 1 s and returns as soon as the attempt is done', async () => {
    const clock = fakeClock();
    const value = await retryUntilDeadline(async (n) => (n < 7 ? notYet(`try ${n}`) : done('ok')), { what: 'test', deadlineMs: 60_000, clock, onDeadline: deadline });
    expect(value).toBe('ok');
    expect(clock.pauses).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('looks again after the first pause once a try made progress', async () => {
    const clock = fakeClock();
    // Tries 1-4 wait; try 5 reports progress (a service came up); try 8 is done.
    const value = await retryUntilDeadline(async (n) => (n < 8 ? notYet(`try ${n}`, n === 5) : done('ok')), { what: 'test', deadlineMs: 60_000, clock, onDeadline: deadline });
    expect(value).toBe('ok');
    expect(clock.pauses).toEqual([100, 200, 400, 800, 100, 200, 400]);
  });

  it('gives up at the deadline with the last reason', async () => {
    const clock = fakeClock();
    await expect(retryUntilDeadline(async (n) => notYet(`still starting (${n})`), { what: 'test', deadlineMs: 5_000, clock, onDeadline: deadline }))
      .rejects.toThrow(/gave up: still starting \(\d+\)/);
    expect(clock.now()).toBe(5_000);
  });

  it('restarts the deadline on progress, up to the overall cap', async () => {
    const clock = fakeClock();
    // Progress every 4 s never lets a 5 s deadline pass; the 12 s cap still ends it.
    let lastProgress = 0;
    const attempt = async () => {
      const progressed = clock.now() - lastProgress >= 4_000;
      if (progressed) lastProgress = clock.now();
      return notYet('slow host', progressed);
    };
    await expect(retryUntilDeadline(attempt, { what: 'test', deadlineMs: 5_000, maxTotalMs: 12_000, clock, onDeadline: deadline })).rejects.toThrow(/slow host/);
    expect(clock.now()).toBeGreaterThan(5_000);
    expect(clock.now()).toBe(12_000);
  });

  it('stops when the signal fires, as an interruption', async () => {
    const controller = new AbortController();
    const clock = fakeClock();
    const attempt = async (n: number) => {
      if (n === 3) controller.abort();
      return notYet('waiting');
    };
    await expect(retryUntilDeadline(attempt, { what: 'waiting for x', deadlineMs: 60_000, clock, signal: controller.signal, onDeadline: deadline }))
      .rejects.toMatchObject({ kind: 'interrupted', message: 'interrupted while waiting for x' });
  });

  it('ends at once with an attempt\'s own error', async () => {
    await expect(retryUntilDeadline(async () => { throw new TenantctlError('notReady', 'wrong password'); }, { what: 'test', deadlineMs: 60_000, clock: fakeClock(), onDeadline: deadline }))
      .rejects.toThrow('wrong password');
  });
});
