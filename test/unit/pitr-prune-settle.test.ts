import { describe, expect, it, vi } from 'vitest';

// A pitr-prune a killed run left, whose finishing fails (here the repository cannot be listed): it is
// closed as failed with its cause, nothing is forgotten, and the command settling it goes on. Left
// running, it would stop every later command on the tenant (settlePending refuses a pending one).
const world = vi.hoisted(() => ({ calls: [] as string[], reason: null as string | null }));

vi.mock('../../src/operations/journal.js', () => ({
  OperationJournal: class {
    db = { pool: { query: async () => ({ rows: [] }) }, unreachable: (e: unknown) => { throw e; } };
    async step(_op: unknown, step: string) { world.calls.push(`step:${step}`); }
    async finish(_op: unknown, state: string, reason: string | null, within?: (client: unknown) => Promise<void>) {
      if (within) await within({});
      world.reason = reason;
      world.calls.push(`finish:${state}`);
    }
  },
}));
vi.mock('../../src/audit/write.js', () => ({ recordAudit: async (_db: unknown, _c: unknown, _t: string, kind: string) => void world.calls.push(`audit:${kind}`) }));
vi.mock('../../src/repository/hold.js', () => ({ holdRepository: async () => async () => {} }));
vi.mock('../../src/pitr/repo.js', async (original) => ({
  ...(await original<typeof import('../../src/pitr/repo.js')>()),
  openPitrRepository: async () => ({
    location: { display: 'r', url: 'r' },
    json: async () => { throw new Error('restic: repository unreachable'); },
    run: async (args: string[]) => { world.calls.push(`restic:${args[0]}`); return { stdout: '', stderrTail: '' }; },
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
    expect(world.calls).toEqual(['audit:pitr.prune-failed', 'finish:failed']);
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
    expect(world.calls).toEqual([]);
  });
});
