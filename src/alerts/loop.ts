import type { Context } from '../context.js';
import { deliverDue } from './deliver.js';

// The loop the agent runs (its shape is the agent's: name, interval, tick): each tick sends what
// is due, at most one batch; the next tick takes the rest.

/**
 * A periodic job written against tenantctl's command context: the watch's and retention's (src/watch)
 * and this folder's. The agent runs them (src/agent/loops.ts); `tenantctl watch` runs them without one.
 */
export interface Loop {
  name: string;
  intervalMs: number;
  tick(ctx: Context, signal: AbortSignal): Promise<void>;
}

/** Default interval 5 s (alerts.deliveryIntervalSeconds); alertDeliveryLoopFor(ctx) takes the configured one. */
export const alertDeliveryLoop: Loop = {
  name: 'alert-delivery',
  intervalMs: 5_000,
  async tick(ctx, signal) {
    await deliverDue(ctx, signal);
  },
};

export function alertDeliveryLoopFor(ctx: Context): Loop {
  return { ...alertDeliveryLoop, intervalMs: ctx.config.alerts.deliveryIntervalSeconds * 1000 };
}
