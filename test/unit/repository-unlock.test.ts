import { describe, expect, it } from 'vitest';
import { holdRepository, unlockWhenNoneHolds } from '../../src/repository/hold.js';
import type { AdminDb } from '../../src/admin-db/database.js';

// The automatic `restic unlock` runs only when no tenantctl can be running restic on the repository:
// the agent's restic shares this host's name (network_mode host) but not its pids, so restic would
// call its live lock stale. A fake admin database answers the advisory locks.
function fakeDb(othersHold: boolean): { db: AdminDb; sql: string[] } {
  const sql: string[] = [];
  const client = {
    query: async (text: string) => {
      sql.push(text);
      return { rows: [{ got: !othersHold }] };
    },
    release: () => {},
    // The session lock watches its connection for loss (src/admin-db/session-lock.ts).
    on: () => client,
    off: () => client,
  };
  return { db: { connect: async () => client } as unknown as AdminDb, sql };
}
const location = { url: '/srv/repo', display: '/srv/repo', backend: 'local' };

describe('restic unlock only when no tenantctl holds the repository', () => {
  it('does not unlock while another tenantctl holds it (shared or exclusive)', async () => {
    let unlocks = 0;
    const { db } = fakeDb(true);
    expect(await unlockWhenNoneHolds(db, location, async () => { unlocks += 1; })).toBe(false);
    expect(unlocks).toBe(0);
  });

  it('unlocks when the exclusive hold is free, releasing it after', async () => {
    let unlocks = 0;
    const { db, sql } = fakeDb(false);
    expect(await unlockWhenNoneHolds(db, location, async () => { unlocks += 1; })).toBe(true);
    expect(unlocks).toBe(1);
    expect(sql.some((s) => /pg_advisory_unlock\(/.test(s))).toBe(true);
  });

  it('unlocks under this process\'s own exclusive hold (a prune), and not after it is released', async () => {
    let unlocks = 0;
    const { db } = fakeDb(true);
    const release = await holdRepository(db, location, 'exclusive');
    expect(await unlockWhenNoneHolds(db, location, async () => { unlocks += 1; })).toBe(true);
    await release();
    expect(await unlockWhenNoneHolds(db, location, async () => { unlocks += 1; })).toBe(false);
    expect(unlocks).toBe(1);
  });
});
