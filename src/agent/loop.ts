import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../common/errors.js';
import type { AgentContext } from './context.js';
import { inOwnLockScope } from '../common/lock-scope.js';
import { ignoreFailure } from '../common/ignore-failure.js';

/**
 * One periodic job of the agent (leadership, schedules; later probes, alerts, metrics): `tick` runs,
 * then the next tick starts `intervalMs` after it ended. Ticks of one loop never overlap; a tick
 * that throws is logged and kept (lastError), and the loop goes on: no loop can stop the agent.
 * `signal` aborts when the agent stops: a tick in flight should end soon (it is awaited, up to
 * the agent's stop deadline).
 */
export interface AgentLoop {
  name: string;
  intervalMs: number;
  tick(ctx: AgentContext, signal: AbortSignal): Promise<void>;
  /**
   * The pause between ticks, when it is not just `intervalMs`: a request-driven loop (requests.ts)
   * ends it as soon as work arrives. It must end when `signal` aborts.
   */
  idle?(intervalMs: number, signal: AbortSignal): Promise<void>;
}

/** A loop's account, for `agent status` and /status. */
export interface LoopState {
  name: string;
  intervalMs: number;
  ticks: number;
  failures: number;
  running: boolean;
  lastTickAt: string | null;
  lastDurationMs: number | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

export interface RunningLoop {
  state: LoopState;
  /** Settles once the loop has stopped (after the signal, when its tick in flight has ended). */
  stopped: Promise<void>;
}

/** Runs `loop` until `signal` aborts. */
export function runLoop(loop: AgentLoop, ctx: AgentContext, signal: AbortSignal): RunningLoop {
  const state: LoopState = { name: loop.name, intervalMs: loop.intervalMs, ticks: 0, failures: 0, running: false, lastTickAt: null, lastDurationMs: null, lastError: null, lastErrorAt: null };
  const stopped = (async () => {
    while (!signal.aborted) {
      const started = ctx.ctx.clock.now();
      state.running = true;
      try {
        // Each tick in its own lock scope: a tenant lock one loop lost fails that loop's fence checks
        // only, never another loop's (lock-scope.ts).
        await inOwnLockScope(() => loop.tick(ctx, signal));
      } catch (error) {
        state.failures += 1;
        state.lastError = messageOf(error);
        state.lastErrorAt = new Date(ctx.ctx.clock.now()).toISOString();
        if (!signal.aborted) ctx.log(`loop ${loop.name}: ${state.lastError}`);
      } finally {
        state.running = false;
        state.ticks += 1;
        state.lastTickAt = new Date(started).toISOString();
        state.lastDurationMs = ctx.ctx.clock.now() - started;
      }
      // The pause between ticks is the loop's period, not a wait for something to become true
      // (which would go through common/retry.ts); it ends at once when the agent stops.
      if (loop.idle) {
        await loop.idle(loop.intervalMs, signal);
        continue;
      }
      await sleep(loop.intervalMs, undefined, { signal }).catch(ignoreFailure('an aborted pause is the stop signal, read by the loop condition'));
    }
  })();
  return { state, stopped };
}
