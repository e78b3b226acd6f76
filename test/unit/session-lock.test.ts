// holdSessionLock's release: only a connection whose unlock said so goes back to the pool (its
// lock_timeout reset); a failed or false unlock, or a connection that ended while held, is destroyed
// so no pooled connection keeps an advisory lock.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { AdminDb } from '../../src/admin-db/database.js';
import { holdSessionLock } from '../../src/admin-db/session-lock.js';

function fakeDb(unlock: () => Promise<{ rows: Array<Record<string, unknown>> }>) {
  const client = Object.assign(new EventEmitter(), {
    queries: [] as string[],
    released: [] as Array<boolean | undefined>,
    async query(sql: string) {
      this.queries.push(sql.split('(')[0]!);
      return sql.includes('unlock') ? unlock() : { rows: [] };
    },
    release(destroy?: boolean) {
      this.released.push(destroy);
    },
  });
  const db = { connect: async () => client, unreachable: (error: unknown) => { throw error; } } as unknown as AdminDb;
  return { client, db };
}

const hold = (db: AdminDb) => holdSessionLock(db, 7, 'key', { waitMs: 100, busy: () => new Error('busy') });

describe('holdSessionLock release', () => {
  it('returns an unlocked connection to the pool, its setting reset', async () => {
    const { client, db } = fakeDb(async () => ({ rows: [{ unlocked: true }] }));
    await (await hold(db))();
    expect(client.queries).toEqual(['SET lock_timeout = 100', 'SELECT pg_advisory_lock', 'SELECT pg_advisory_unlock', 'RESET lock_timeout']);
    expect(client.released).toEqual([undefined]);
    expect(client.listenerCount('error')).toBe(0);
  });

  it('destroys the connection when the unlock fails or says it held nothing', async () => {
    for (const unlock of [async () => Promise.reject(new Error('broken')), async () => ({ rows: [{ unlocked: false }] })]) {
      const { client, db } = fakeDb(unlock);
      await (await hold(db))();
      expect(client.queries).not.toContain('RESET lock_timeout');
      expect(client.released).toEqual([true]);
    }
  });

  it('destroys a connection that failed while held, without asking it to unlock', async () => {
    const { client, db } = fakeDb(async () => ({ rows: [{ unlocked: true }] }));
    const release = await hold(db);
    client.emit('error', new Error('terminating connection due to administrator command'));
    await release();
    expect(client.queries).not.toContain('SELECT pg_advisory_unlock');
    expect(client.released).toEqual([true]);
  });
});
