import { describe, expect, it } from 'vitest';
import { nextRetryDelay, retryMaxMs, startupRetryMs, startupWindowMs } from '../../apps/tenant-app/backoff.js';

describe('the reference app\'s retry delay', () => {
  const startedAt = 1_000_000;

  it('stays at the first step while the stack starts, so the first beat follows its services closely', () => {
    let delay: number | undefined;
    const delays = [];
    for (let i = 0; i < 6; i++) delays.push((delay = nextRetryDelay(delay, startedAt + 1_000 * i, startedAt)));
    expect(delays).toEqual(Array(6).fill(startupRetryMs));
  });

  it('doubles up to the cap after the start-up window, so a long outage costs little', () => {
    const later = startedAt + startupWindowMs + 1;
    let delay: number | undefined;
    const delays = [];
    for (let i = 0; i < 8; i++) delays.push((delay = nextRetryDelay(delay, later, startedAt)));
    expect(delays).toEqual([200, 400, 800, 1_600, 3_200, retryMaxMs, retryMaxMs, retryMaxMs]);
  });
});
