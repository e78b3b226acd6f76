import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { deliverDue } from '../alerts/deliver.js';
import { watchPass, type PassResult } from './pass.js';
import { pruneOld, retentionLoop } from './retention.js';

// `tenantctl watch`: the watch, alert delivery and retention loops in the foreground, for hosts
// without the agent and for tests (--once: one pass of each, then the result). The agent runs the
// same loops (watchLoop, alertDeliveryLoop, retentionLoop) on its own schedule.

export interface WatchRun {
  passes: PassResult[];
  deliveries: { delivered: number; retrying: number; failed: number };
  /** Rows deleted by the retention loop (watch.retentionDays). */
  pruned: { events: number; deliveries: number };
  /** The last failed ticks (at most maxErrors; errorsDropped counts older ones). */
  errors: string[];
  errorsDropped: number;
}

/** A run of days keeps only its most recent errors in memory. */
const maxErrors = 100;

export async function runWatch(ctx: Context, input: { once?: boolean }): Promise<WatchRun> {
  const run: WatchRun = { passes: [], deliveries: { delivered: 0, retrying: 0, failed: 0 }, pruned: { events: 0, deliveries: 0 }, errors: [], errorsDropped: 0 };
  const prune = async () => {
    const removed = await pruneOld(ctx);
    run.pruned.events += removed.events;
    run.pruned.deliveries += removed.deliveries;
  };
  const signal = ctx.signal;
  const deliver = async () => {
    for (const d of await deliverDue(ctx, signal)) run.deliveries[d.state === 'delivered' ? 'delivered' : d.state === 'failed' ? 'failed' : 'retrying'] += 1;
  };
  if (input.once) {
    run.passes.push(await watchPass(ctx, signal));
    await deliver();
    await prune();
    return run;
  }
  // Two loops, each on its own interval; a failed tick is reported and the loop goes on.
  const loop = async (name: string, intervalMs: number, tick: () => Promise<void>) => {
    while (!signal.aborted) {
      try {
        await tick();
      } catch (error) {
        if (signal.aborted) break;
        run.errors.push(`${name}: ${messageOf(error)}`);
        if (run.errors.length > maxErrors) {
          run.errors.shift();
          run.errorsDropped += 1;
        }
        ctx.reporter.info(`${name}: ${messageOf(error)}`);
      }
      await ctx.clock.sleep(intervalMs, signal).catch(ignoreFailure('the pause rejects only when the watch is stopped (Ctrl-C): the loop condition ends it'));
    }
  };
  await Promise.all([
    loop('watch', ctx.config.watch.intervalSeconds * 1000, async () => {
      const pass = await watchPass(ctx, signal);
      run.passes.push(pass);
      for (const c of pass.changes) ctx.reporter.info(`${c.tenant}: ${c.from ?? 'new'} -> ${c.to}${c.reasons.length ? `: ${c.reasons.join('; ')}` : ''}`);
      if (run.passes.length > 100) run.passes.shift();
    }),
    loop('alerts', ctx.config.alerts.deliveryIntervalSeconds * 1000, deliver),
    loop(retentionLoop.name, retentionLoop.intervalMs, prune),
  ]);
  return run;
}
