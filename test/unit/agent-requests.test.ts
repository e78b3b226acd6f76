import { describe, expect, it } from 'vitest';
import { runLoop } from '../../src/agent/loop.js';
import { RequestQueue, requestsLoop, type RequestHandler } from '../../src/agent/requests.js';
import type { AgentContext } from '../../src/agent/context.js';
import { systemClock } from '../../src/common/clock.js';

// The agent's seam for request-driven jobs (src/agent/requests.ts), through the real loop runner:
// a request runs at once (not after the loop's interval), one job per kind and target, on the
// leader only, bounded, and nothing waits forever when the agent stops or loses the lead.

interface Fake { agent: AgentContext; lines: string[]; lead: { leader: boolean; term: AbortController } }

function fakeAgent(): Fake {
  const lines: string[] = [];
  const lead = { leader: true, term: new AbortController() };
  const agent: AgentContext = {
    ctx: { clock: systemClock } as never,
    db: {} as never,
    hostId: 'h1',
    isLeader: () => lead.leader,
    leadership: { session: undefined, get termSignal() { return lead.leader ? lead.term.signal : undefined; }, during: (work) => work() },
    log: (line) => lines.push(line),
  };
  return { agent, lines, lead };
}

/** A handler that waits until released, counting its calls. */
function gated(): { handler: RequestHandler; calls: string[]; release: () => void; started: Promise<void> } {
  const calls: string[] = [];
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const began = new Promise<void>((resolve) => { started = resolve; });
  return {
    calls, release, started: began,
    handler: async (_agent, request) => {
      calls.push(request.target);
      started();
      await gate;
      return { woke: request.target };
    },
  };
}

/** Until the loop has ticked once (it attaches to its queue on its first tick). */
async function firstTick(running: ReturnType<typeof runLoop>): Promise<void> {
  while (running.state.ticks === 0) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('the agent\'s on-demand requests', () => {
  it('runs a request at once, not after the loop\'s interval, and joins the same request into one job', async () => {
    const wake = gated();
    const queue = new RequestQueue(new Map([['wake', wake.handler]]));
    const { agent, lines } = fakeAgent();
    const stop = new AbortController();
    // An hour between ticks: only the submit can start the work.
    const running = runLoop(requestsLoop(queue, 3_600_000), agent, stop.signal);
    await firstTick(running);
    const began = Date.now();
    const first = queue.submit({ kind: 'wake', target: 'acme', requestedBy: 'gateway' });
    const second = queue.submit({ kind: 'wake', target: 'acme', requestedBy: 'gateway' });
    const other = queue.submit({ kind: 'wake', target: 'globex', requestedBy: 'gateway' });
    await wake.started;
    wake.release();
    const [a, b, c] = await Promise.all([first, second, other]);
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(wake.calls.sort()).toEqual(['acme', 'globex']);
    expect(a).toBe(b);
    expect(a).toMatchObject({ kind: 'wake', target: 'acme', outcome: 'done', result: { woke: 'acme' }, requests: 2 });
    expect(c).toMatchObject({ target: 'globex', outcome: 'done', requests: 1 });
    expect(queue.size).toBe(0);
    // Done: a new request for the same tenant is a new job.
    const again = queue.submit({ kind: 'wake', target: 'acme', requestedBy: 'gateway' });
    expect((await again).requests).toBe(1);
    expect(wake.calls.filter((t) => t === 'acme')).toHaveLength(2);
    expect(lines.filter((l) => /^request wake acme by gateway ended in \d+ ms$/.test(l))).toHaveLength(2);
    stop.abort();
    await running.stopped;
  });

  it('a request submitted while a long job runs starts at once (concurrency allowing), not after that job', async () => {
    const slow = gated();
    const queue = new RequestQueue(new Map<string, RequestHandler>([
      ['slow', slow.handler],
      ['fast', async (_agent, r) => `fast ${r.target}`],
    ]), { concurrency: 4 });
    const { agent } = fakeAgent();
    const stop = new AbortController();
    const running = runLoop(requestsLoop(queue, 3_600_000), agent, stop.signal);
    await firstTick(running);
    const long = queue.submit({ kind: 'slow', target: 'a', requestedBy: 't' });
    await slow.started;
    // The slow job is never released before the fast one's outcome is in: with the fast one
    // waiting for the slow one's tick to end, this would time out.
    const fast = await Promise.race([
      queue.submit({ kind: 'fast', target: 'b', requestedBy: 't' }),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 1 s'), 1_000)),
    ]);
    expect(fast).toMatchObject({ outcome: 'done', result: 'fast b' });
    expect(queue.size).toBe(1);
    slow.release();
    expect(await long).toMatchObject({ outcome: 'done', target: 'a' });
    stop.abort();
    await running.stopped;
  });

  it('a dropped caller\'s refused request is no unhandled rejection', async () => {
    const wake = gated();
    const queue = new RequestQueue(new Map([['wake', wake.handler]]), { concurrency: 1 });
    const { agent } = fakeAgent();
    const stop = new AbortController();
    const running = runLoop(requestsLoop(queue, 3_600_000), agent, stop.signal);
    await firstTick(running);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const busy = queue.submit({ kind: 'wake', target: 'a', requestedBy: 't' });
      await wake.started;
      // Its caller went away: nobody awaits this one.
      void queue.submit({ kind: 'wake', target: 'b', requestedBy: 't' });
      stop.abort();
      wake.release();
      await busy;
      await running.stopped;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a failing handler fails its request with the cause, and the loop goes on', async () => {
    const queue = new RequestQueue(new Map<string, RequestHandler>([
      ['wake', async (_agent, r) => { if (r.target === 'bad') throw new Error('no such tenant: bad'); return 'ok'; }],
    ]));
    const { agent } = fakeAgent();
    const stop = new AbortController();
    const running = runLoop(requestsLoop(queue, 3_600_000), agent, stop.signal);
    await firstTick(running);
    expect(await queue.submit({ kind: 'wake', target: 'bad', requestedBy: 't' })).toMatchObject({ outcome: 'failed', error: 'no such tenant: bad' });
    expect(await queue.submit({ kind: 'wake', target: 'good', requestedBy: 't' })).toMatchObject({ outcome: 'done', result: 'ok' });
    stop.abort();
    await running.stopped;
  });

  it('refuses an unknown kind, a follower\'s request and more than maxPending; the agent stopping refuses what waits', async () => {
    const wake = gated();
    const queue = new RequestQueue(new Map([['wake', wake.handler]]), { maxPending: 2, concurrency: 1 });
    const { agent, lead } = fakeAgent();
    const stop = new AbortController();
    // Before its first tick the queue knows no leader: refused.
    await expect(queue.submit({ kind: 'wake', target: 'early', requestedBy: 't' })).rejects.toThrow(/does not lead its host/);
    const running = runLoop(requestsLoop(queue, 3_600_000), agent, stop.signal);
    await firstTick(running);
    await expect(queue.submit({ kind: 'restart', target: 'acme', requestedBy: 't' })).rejects.toMatchObject({ kind: 'usage', message: expect.stringMatching(/no request of kind "restart" \(it runs: wake\)/) });
    const busy = queue.submit({ kind: 'wake', target: 'a', requestedBy: 't' });
    await wake.started;
    // One runs (concurrency 1); two may wait; the third waiting is refused, not queued.
    const waiting = [queue.submit({ kind: 'wake', target: 'b', requestedBy: 't' }), queue.submit({ kind: 'wake', target: 'c', requestedBy: 't' })];
    await expect(queue.submit({ kind: 'wake', target: 'd', requestedBy: 't' })).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(/2 requests waiting/) });
    // The agent stops: the waiting ones are refused at once, while the running job still runs (this
    // handler ignores the signal it is given; it ends when released here).
    stop.abort();
    for (const w of waiting) await expect(w).rejects.toThrow(/the agent is stopping/);
    expect(queue.size).toBe(1);
    wake.release();
    expect(await busy).toMatchObject({ outcome: 'done', target: 'a' });
    await running.stopped;
    expect(queue.size).toBe(0);
    // A follower refuses at once.
    lead.leader = false;
    await expect(queue.submit({ kind: 'wake', target: 'e', requestedBy: 't' })).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('an agent that loses the lead refuses what waits, and runs nothing more', async () => {
    const wake = gated();
    const queue = new RequestQueue(new Map([['wake', wake.handler]]), { concurrency: 1 });
    const { agent, lead } = fakeAgent();
    const stop = new AbortController();
    const running = runLoop(requestsLoop(queue, 3_600_000), agent, stop.signal);
    await firstTick(running);
    const busy = queue.submit({ kind: 'wake', target: 'a', requestedBy: 't' });
    await wake.started;
    const waiting = queue.submit({ kind: 'wake', target: 'b', requestedBy: 't' });
    lead.term.abort();
    wake.release();
    expect(await busy).toMatchObject({ outcome: 'done' });
    await expect(waiting).rejects.toThrow(/lost the lead/);
    expect(wake.calls).toEqual(['a']);
    stop.abort();
    await running.stopped;
  });
});
