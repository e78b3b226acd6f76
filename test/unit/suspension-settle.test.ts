import { describe, expect, it, vi } from 'vitest';

// A failing suspend settles from the operation as the database has it, not from its in-memory copy:
// here the COMMIT of the 'stopped' step errors on the client's side but was recorded. Settling from
// memory ('begun') would undo (start the stack again) a suspension whose point of no return is on
// record; from the reread row it is finished (marked, door closed, completed).
const world = vi.hoisted(() => ({
  row: { id: 7, tenant: 'acme', verb: 'suspend', host: 'h', step: 'begun', state: 'running', data: {} as Record<string, unknown>, reason: null, actor: 'a', startedAt: '', updatedAt: '' },
  calls: [] as string[],
}));

vi.mock('../../src/tenants/hold.js', () => ({ holdTenant: async () => async () => {} }));
vi.mock('../../src/tenants/day2-target.js', () => ({
  requireTenantFor: async () => ({ record: { id: 'acme', status: world.row.step === 'marked' ? 'suspended' : 'active', composeProject: 'p-acme', suspension: { reason: 'r' } }, target: {} }),
}));
vi.mock('../../src/runtime/runtime-for.js', () => ({
  runtimeFor: async () => ({
    kind: 'compose',
    stop: async () => void world.calls.push('stop'),
    start: async () => void world.calls.push('start'),
  }),
}));
vi.mock('../../src/suspension/door.js', () => ({ closeDoor: async () => (world.calls.push('door'), 'closed') }));
vi.mock('../../src/tenants/registry.js', () => ({
  TenantRegistry: class {
    async markSuspended() { world.calls.push('mark'); }
    async require() { return { suspension: { reason: 'r' } }; }
  },
}));
vi.mock('../../src/operations/journal.js', () => ({
  OperationJournal: class {
    db = { locksProven: async () => undefined };
    async begin(input: { data: Record<string, unknown> }) {
      world.row.data = input.data;
      return { ...world.row };
    }
    async step(op: { step: string }, step: string, _patch: unknown, within?: (client: unknown) => Promise<void>) {
      if (within) await within({});
      world.row.step = step; // committed...
      world.calls.push(`step:${step}`);
      if (step === 'stopped' && world.calls.filter((c) => c === 'step:stopped').length === 1) throw new Error('Connection terminated unexpectedly'); // ...but the client never heard
      op.step = step;
    }
    async reread() { return { ...world.row }; }
    async finish(_op: unknown, state: string) {
      world.row.state = state;
      world.calls.push(`finish:${state}`);
    }
  },
}));

const { suspendTenant } = await import('../../src/suspension/suspend.js');

describe('a suspend whose step commit failed on the client\'s side', () => {
  it('settles from the reread row: finished, never undone (the stack is not started again)', async () => {
    const ctx = {
      clock: { now: () => 0 }, adminDb: async () => ({}), actor: 'ops', dockerHost: { id: 'h' },
      pause: async () => {}, signal: new AbortController().signal, reporter: { step: () => {}, detail: () => {}, info: () => {} },
    } as unknown as import('../../src/context.js').Context;
    const error = await suspendTenant(ctx, { id: 'acme', reason: 'unpaid' }).catch((e: Error & { details?: string[] }) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('Connection terminated unexpectedly');
    expect(world.calls).not.toContain('start');
    expect(world.calls).toEqual(['stop', 'step:stopped', 'mark', 'step:marked', 'door', 'step:door-closed', 'finish:completed']);
    expect((error as { details: string[] }).details.join(' ')).toContain('the suspension was finished');
  });
});
