import { describe, expect, it } from 'vitest';
import { holdTenant } from '../../src/tenants/hold.js';

// An operation whose settlement is deferred (an owner conversion whose database is not running)
// does not lock the tenant out: the verb goes on, and the entry is settled again before the lock goes.
describe('holdTenant with a deferred settlement', () => {
  it('lets the verb run and settles again at release', async () => {
    const calls: string[] = [];
    let outcome: 'deferred' | 'finished' = 'deferred';
    const db = {
      holds: () => false,
      tryLock: async () => async () => void calls.push('unlock'),
      pool: { query: async () => ({ rows: calls.includes('settle:finished') ? [] : [{ id: 1, customer_id: 'acme', verb: 'owner-conversion', host: 'h', step: 'helper-made', state: 'running', data: {}, started_at: new Date(0), updated_at: new Date(0) }] }) },
      unreachable: (e: unknown) => { throw e; },
    };
    const ctx = {
      adminDb: async () => db, signal: new AbortController().signal,
      reporter: { step: () => {}, info: (m: string) => void calls.push(`info:${m.includes('operations abandon acme') ? 'abandon named' : m}`) },
      settleOperation: async () => (calls.push(`settle:${outcome}`), outcome),
    } as unknown as import('../../src/context.js').Context;
    const release = await holdTenant(ctx, 'acme');
    calls.push('verb');
    outcome = 'finished'; // the verb (a start) brought the database back
    await release();
    expect(calls).toEqual(['settle:deferred', 'info:abandon named', 'verb', 'settle:finished', 'info:the interrupted owner-conversion of acme is finished', 'unlock']);
  });
});
