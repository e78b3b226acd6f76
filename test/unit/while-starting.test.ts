// rotate-secrets waits for a server still starting only on a swarm (its tasks are replaced); on
// compose a PostgreSQL or Redis that is down fails the step at once.
import { describe, expect, it } from 'vitest';
import { whileStarting } from '../../src/secrets/while-starting.js';
import type { Clock } from '../../src/common/clock.js';

function fakeClock(): Clock {
  let now = 0;
  return { now: () => now, sleep: async (ms) => { now += ms; } };
}

function failing(messages: string[]): { work: () => Promise<void>; calls: () => number } {
  let calls = 0;
  return {
    work: async () => {
      const message = messages[calls++];
      if (message !== undefined) throw new Error(message);
    },
    calls: () => calls,
  };
}

describe('whileStarting', () => {
  it('on compose tries once: a server refusing connections fails at once', async () => {
    const clock = fakeClock();
    const w = failing(['could not connect to server: Connection refused']);
    await expect(whileStarting('compose', { clock, deadlineMs: 60_000 }, 'setting a password', w.work)).rejects.toThrow(/Connection refused/);
    expect(w.calls()).toBe(1);
    expect(clock.now()).toBe(0);
  });

  it('on a swarm waits while the container is gone, not running or starting, then succeeds', async () => {
    const clock = fakeClock();
    const w = failing(['Error: No such container: abc', 'the redis container of acme is not running (tenantctl start acme)', 'acme has no db container (tenantctl status acme)', 'FATAL: the database system is starting up']);
    await whileStarting('swarm', { clock, deadlineMs: 60_000 }, 'setting a password', w.work);
    expect(w.calls()).toBe(5);
  });

  it('on a swarm any other failure is the answer at once, and the deadline ends the wait with the last cause', async () => {
    const other = failing(['role "app" does not exist']);
    await expect(whileStarting('swarm', { clock: fakeClock(), deadlineMs: 60_000 }, 'x', other.work)).rejects.toThrow(/does not exist/);
    expect(other.calls()).toBe(1);
    const forever = failing(Array(1000).fill('Connection refused'));
    await expect(whileStarting('swarm', { clock: fakeClock(), deadlineMs: 10_000 }, 'x', forever.work)).rejects.toThrow(/Connection refused/);
  });
});
