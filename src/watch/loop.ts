import type { Context } from '../context.js';
import { watchPass } from './pass.js';
import type { Loop } from '../alerts/loop.js';

// The loop the agent runs (its shape is the agent's: name, interval, tick): one watch pass per
// tick over the context's Docker host.

export type { Loop };

/** Default interval 15 s (watch.intervalSeconds); watchLoopFor(ctx) takes the configured one. */
export const watchLoop: Loop = {
  name: 'watch',
  intervalMs: 15_000,
  async tick(ctx, signal) {
    await watchPass(ctx, signal);
  },
};

export function watchLoopFor(ctx: Context): Loop {
  return { ...watchLoop, intervalMs: ctx.config.watch.intervalSeconds * 1000 };
}
