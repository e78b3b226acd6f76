import { TenantctlError, messageOf } from '../common/errors.js';
import type { AgentContext } from './context.js';
import type { AgentLoop } from './loop.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { currentLockScope, inOwnLockScope } from '../common/lock-scope.js';

// On-demand jobs: the agent's seam for work that a request starts, not a schedule or a period (the
// gateway asking to wake a sleeping tenant; later the HTTP API's verbs). A caller in the agent's
// process (a route of its loopback server; later a reader of request rows) submits a request and
// awaits its outcome; the `requests` loop runs it on the host's leader, at once (its wait between
// ticks ends on a submit: no polling interval to wait out), up to `concurrency` at a time, each in
// a lock scope of its own (nested in the loop's) and the leadership term's signal: jobs running at
// once never share a tenant lock (a second job on a tenant another job holds is refused, as by
// another process), and one job's lost lock or end never touches another's.
//
// - One job per key: a request for the same kind and target as one pending or running shares its
//   outcome (fifty requests to a sleeping tenant's door wake it once).
// - Only the leader runs them: a follower refuses at once (the caller asks the leader's agent; a
//   request row, later, waits for whichever agent leads).
// - Bounded: at most `maxPending` waiting; more is refused (exit 5's 'conflict'), never queued
//   without end. Nothing here outlives the process: what must survive a restart is journaled by
//   the verb a handler runs (holdTenant settles it), as the schedules' jobs are.
// - A kind without a handler is refused at submit: the table of handlers is the agent's API.

export interface AgentRequest {
  kind: string;
  /** A tenant id, or '*' for the host. */
  target: string;
  /** Who asked (the gateway, an API key's owner, a test): logged with the outcome. */
  requestedBy: string;
}

export type RequestHandler = (agent: AgentContext, request: AgentRequest, signal: AbortSignal) => Promise<unknown>;

export interface RequestOutcome {
  kind: string;
  target: string;
  outcome: 'done' | 'failed';
  /** What the handler returned (done). */
  result?: unknown;
  /** Why it failed (failed). */
  error?: string;
  /** How many submissions this one job answered (1: no other asked meanwhile). */
  requests: number;
  startedAt: string;
  finishedAt: string;
}

interface Entry {
  request: AgentRequest;
  requests: number;
  settle: { resolve: (outcome: RequestOutcome) => void; reject: (error: unknown) => void };
  promise: Promise<RequestOutcome>;
}

const keyOf = (r: Pick<AgentRequest, 'kind' | 'target'>) => `${r.kind}\u0000${r.target}`;

export class RequestQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly order: string[] = [];
  private wake: (() => void) | undefined;
  /** The running tick's: starts a worker for a new request while fewer than `concurrency` run. */
  private pump: (() => void) | undefined;
  private leading: () => boolean = () => false;

  constructor(
    private readonly handlers: ReadonlyMap<string, RequestHandler>,
    readonly options: { maxPending?: number; concurrency?: number } = {},
  ) {}

  get kinds(): string[] {
    return [...this.handlers.keys()];
  }

  handlerOf(kind: string): RequestHandler | undefined {
    return this.handlers.get(kind);
  }

  /** Waiting and running jobs. */
  get size(): number {
    return this.entries.size;
  }

  /** The loop tells the queue whether this agent leads (requestsLoop does, on each tick). */
  attach(isLeader: () => boolean): void {
    this.leading = isLeader;
  }

  /** Queues a request (or joins the same one pending or running) and resolves with its outcome. */
  submit(request: AgentRequest): Promise<RequestOutcome> {
    if (!this.handlers.has(request.kind)) {
      return Promise.reject(new TenantctlError('usage', `the agent runs no request of kind ${JSON.stringify(request.kind)} (it runs: ${this.kinds.join(', ') || 'none yet'})`));
    }
    if (!this.leading()) return Promise.reject(new TenantctlError('conflict', 'this agent does not lead its host: ask the leader\'s agent (agent status names it)'));
    const key = keyOf(request);
    const joined = this.entries.get(key);
    if (joined) {
      joined.requests += 1;
      return joined.promise;
    }
    const waiting = this.order.length;
    if (waiting >= (this.options.maxPending ?? 64)) {
      return Promise.reject(new TenantctlError('conflict', `the agent has ${waiting} requests waiting already: ask again later`));
    }
    let settle!: Entry['settle'];
    const promise = new Promise<RequestOutcome>((resolve, reject) => { settle = { resolve, reject }; });
    // Its callers handle a refusal; a caller that stopped waiting (a dropped connection) must not
    // make it an unhandled rejection, which ends the agent's process.
    promise.catch(ignoreFailure('callers handle a refusal; a caller that stopped waiting must not end the agent by an unhandled rejection'));
    this.entries.set(key, { request, requests: 1, settle, promise });
    this.order.push(key);
    this.wake?.();
    this.pump?.();
    return promise;
  }

  /** The next waiting job (now no longer waiting); undefined when none waits. */
  take(): Entry | undefined {
    const key = this.order.shift();
    return key === undefined ? undefined : this.entries.get(key)!;
  }

  /** Waiting jobs (not yet running). */
  get waiting(): number {
    return this.order.length;
  }

  /** While a tick runs: what a submit calls to start its job at once (undefined: none runs). */
  pumpWith(start: (() => void) | undefined): void {
    this.pump = start;
  }

  finish(entry: Entry, outcome: Omit<RequestOutcome, 'requests' | 'kind' | 'target'>): void {
    this.entries.delete(keyOf(entry.request));
    entry.settle.resolve({ kind: entry.request.kind, target: entry.request.target, ...outcome, requests: entry.requests });
  }

  /** Every waiting request refused (the agent stops, or lost the lead): their callers learn it at once. */
  refuseWaiting(why: string): void {
    for (const key of this.order.splice(0)) {
      const entry = this.entries.get(key)!;
      this.entries.delete(key);
      entry.settle.reject(new TenantctlError('conflict', why));
    }
  }

  /** Until a request waits, `ms` pass, or `signal` aborts: the loop's pause between ticks. */
  idle(ms: number, signal: AbortSignal): Promise<void> {
    if (this.order.length > 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
}

/**
 * The loop that runs submitted requests on the leader: each tick runs what waits (and what arrives
 * meanwhile) with up to `concurrency` at once, and ends when nothing waits; between ticks it waits
 * for the next submit (or `intervalMs`, only so that /status shows it ticking). A follower's tick
 * refuses whatever waits (it led when it was submitted, and lost the lead since).
 */
export function requestsLoop(queue: RequestQueue, intervalMs = 60_000): AgentLoop {
  return {
    name: 'requests',
    intervalMs,
    idle: (ms, signal) => queue.idle(ms, signal),
    async tick(agent, signal) {
      queue.attach(() => agent.isLeader() && !signal.aborted);
      const term = agent.leadership.termSignal;
      if (!agent.isLeader() || !term) {
        queue.refuseWaiting('this agent no longer leads its host: ask again (the new leader\'s agent runs it)');
        return;
      }
      const both = AbortSignal.any([signal, term]);
      // A job a submit starts runs in the submitter's async context: its lock scope is made under the
      // loop's tick all the same.
      const loopScope = currentLockScope();
      const why = () => (signal.aborted ? 'the agent is stopping' : 'this agent lost the lead of its host: ask again');
      // What waits is refused the moment the agent stops or loses the lead, not when the running jobs end.
      const refuse = () => queue.refuseWaiting(why());
      both.addEventListener('abort', refuse, { once: true });
      const run = async (entry: NonNullable<ReturnType<RequestQueue['take']>>) => {
        const started = agent.ctx.clock.now();
        const at = () => new Date(agent.ctx.clock.now()).toISOString();
        try {
          const handler = queue.handlerOf(entry.request.kind)!;
          const request = entry.request;
          const result = await agent.leadership.during(() => inOwnLockScope(() => handler(agent, request, both), loopScope));
          queue.finish(entry, { outcome: 'done', result, startedAt: new Date(started).toISOString(), finishedAt: at() });
        } catch (error) {
          queue.finish(entry, { outcome: 'failed', error: messageOf(error), startedAt: new Date(started).toISOString(), finishedAt: at() });
        }
        agent.log(`request ${entry.request.kind} ${entry.request.target} by ${entry.request.requestedBy} ended in ${agent.ctx.clock.now() - started} ms`);
      };
      // Each job starts the moment it is submitted while fewer than `concurrency` run (a request
      // that arrives during a long job does not wait for it); the tick ends when none runs or waits.
      const concurrency = Math.max(1, queue.options.concurrency ?? 4);
      let running = 0;
      let ended!: () => void;
      const allEnded = new Promise<void>((resolve) => { ended = resolve; });
      const start = () => {
        while (!both.aborted && running < concurrency) {
          const entry = queue.take();
          if (!entry) break;
          running += 1;
          void run(entry).finally(() => {
            running -= 1;
            start();
            if (running === 0) ended();
          });
        }
        if (running === 0) ended();
      };
      queue.pumpWith(start);
      try {
        start();
        await allEnded;
      } finally {
        queue.pumpWith(undefined);
        both.removeEventListener('abort', refuse);
      }
      if (both.aborted) refuse();
    },
  };
}
