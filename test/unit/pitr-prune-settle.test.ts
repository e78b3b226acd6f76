import { describe, expect, it, vi } from 'vitest';

// A pitr-prune a killed run left, whose finishing fails (here the repository cannot be listed): it is
// closed as failed with its cause, nothing is forgotten, and the command settling it goes on. Left
// running, it would stop every later command on the tenant (settlePending refuses a pending one).
const world = vi.hoisted(() => ({
  calls: [] as string[], reason: null as string | null,
  /** What restic lists (undefined: the repository is unreachable) and what a running to-time restore reads. */
  snapshots: undefined as Array<{ id: string; time: string; paths: string[] }> | undefined,
  inUse: [] as Array<{ base: string | null; wal: Array<{ id: string }> }>,
}));

vi.mock('../../src/operations/journal.js', () => ({
  OperationJournal: class {
    db = { pool: { query: async (sql: string) => ({ rows: /pitr-restore/.test(sql) ? world.inUse : [] }) }, unreachable: (e: unknown) => { throw e; } };
    async step(_op: unknown, step: string) { world.calls.push(`step:${step}`); }
    async finish(_op: unknown, state: string, reason: string | null, within?: (client: unknown) => Promise<void>) {
      if (within) await within({});
      world.reason = reason;
      world.calls.push(`finish:${state}`);
    }
  },
}));
vi.mock('../../src/audit/write.js', () => ({ recordAudit: async (_db: unknown, _c: unknown, _t: string, kind: string) => void world.calls.push(`audit:${kind}`) }));
vi.mock('../../src/pitr/ship-lock.js', () => ({ shippingLock: async () => (world.calls.push('shipping-lock'), async () => void world.calls.push('shipping-unlock')) }));
vi.mock('../../src/repository/hold.js', () => ({ holdRepository: async () => async () => {} }));
vi.mock('../../src/pitr/repo.js', async (original) => ({
  ...(await original<typeof import('../../src/pitr/repo.js')>()),
  openPitrRepository: async () => ({
    location: { display: 'r', url: 'r' },
    json: async () => { if (!world.snapshots) throw new Error('restic: repository unreachable'); return world.snapshots; },
    run: async (args: string[]) => { world.calls.push(`restic:${args.join(' ')}`); return { stdout: '', stderrTail: '' }; },
  }),
}));

const { resumePitrPrune } = await import('../../src/pitr/retention.js');

describe('settling a pitr-prune whose finishing fails', () => {
  it('closes it as failed with its cause (audited), forgets nothing, and lets the command go on', async () => {
    const ctx = {
      config: { backups: {} }, adminDb: async () => ({}), pause: async () => {}, signal: new AbortController().signal,
      reporter: { step: () => {}, detail: () => {}, info: () => {} },
    } as unknown as import('../../src/context.js').Context;
    const op = { id: 1, tenant: 'acme', verb: 'pitr-prune', host: 'h', step: 'rows-dropped', state: 'running', data: { policy: { keepBaseBackups: 1 }, bases: ['aaaaaaaa'], strayBases: [], wal: [] } };
    await expect(resumePitrPrune(ctx, op as never)).resolves.toBe('undone');
    expect(world.calls).toEqual(['shipping-lock', 'shipping-unlock', 'audit:pitr.prune-failed', 'finish:failed']);
    expect(world.reason).toMatch(/repository unreachable/);
  });

  it('leaves it running on Ctrl-C (the next command settles it)', async () => {
    world.calls = [];
    const abort = new AbortController();
    abort.abort();
    const ctx = {
      config: { backups: {} }, adminDb: async () => ({}), pause: async () => {}, signal: abort.signal,
      reporter: { step: () => {}, detail: () => {}, info: () => {} },
    } as unknown as import('../../src/context.js').Context;
    const op = { id: 2, tenant: 'acme', verb: 'pitr-prune', host: 'h', step: 'rows-dropped', state: 'running', data: { policy: { keepBaseBackups: 1 }, bases: [], strayBases: [], wal: [] } };
    await expect(resumePitrPrune(ctx, op as never)).rejects.toThrow(/unreachable/);
    expect(world.calls).toEqual(['shipping-lock', 'shipping-unlock']);
  });
});

describe('finishing a pitr-prune a killed run left', () => {
  it('holds the shipping lock and leaves what a to-time restore began reading since the choice', async () => {
    world.calls = [];
    const full = (c: string) => c.repeat(64);
    world.snapshots = [{ id: full('a'), time: '2026-12-01T00:00:00Z', paths: ['/x'] }, { id: full('b'), time: '2026-12-01T00:00:00Z', paths: ['/x'] }];
    world.inUse = [{ base: null, wal: [{ id: full('b') }] }];
    const ctx = {
      config: { backups: {} }, adminDb: async () => ({}), pause: async () => {}, signal: new AbortController().signal,
      reporter: { step: () => {}, detail: () => {}, info: () => {} },
    } as unknown as import('../../src/context.js').Context;
    const op = { id: 3, tenant: 'acme', verb: 'pitr-prune', host: 'h', step: 'rows-dropped', state: 'running', data: { policy: { keepBaseBackups: 1 }, bases: [], strayBases: [], wal: [full('a'), full('b')] } };
    await expect(resumePitrPrune(ctx, op as never)).resolves.toBe('finished');
    expect(world.calls[0]).toBe('shipping-lock');
    expect(world.calls).toContain(`restic:forget ${full('a')}`);
    expect(world.calls.filter((c) => c.includes(full('b')))).toEqual([]);
    expect(world.calls.slice(-2)).toEqual(['finish:completed', 'shipping-unlock']);
  });
});
