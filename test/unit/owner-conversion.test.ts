import { beforeEach, describe, expect, it, vi } from 'vitest';

// How an interrupted or failed owner conversion (tenants/owner-conversion.ts) is settled, with the
// tenant's database and the admin database faked: which calls reach the tenant's PostgreSQL, and
// what the journal entry becomes.
const world = vi.hoisted(() => ({
  calls: [] as string[],
  record: undefined as undefined | { id: string; status: string; keptData: boolean },
  running: true,
  ownerSuper: true,
  rereadStep: 'helper-made' as string | Error,
  lock: 'held' as 'held' | 'lost' | 'unknown',
  forwardFails: false,
}));

vi.mock('../../src/tenants/registry.js', () => ({ TenantRegistry: class { async get() { return world.record; } } }));
vi.mock('../../src/tenants/day2-target.js', () => ({ requireTenantFor: async () => ({ record: world.record, target: {} }) }));
vi.mock('../../src/runtime/runtime-for.js', () => ({ runtimeFor: async () => ({ containers: {} }) }));
vi.mock('../../src/stack/tenant-ports.js', () => ({ runningContainerOf: async () => (world.running ? 'c1' : undefined) }));
vi.mock('../../src/audit/write.js', () => ({ recordAudit: async () => void world.calls.push('audit') }));
vi.mock('../../src/tenants/schema.js', () => ({
  finishOwnerConversion: async () => {
    world.calls.push('forward');
    if (!world.running || world.forwardFails) throw new Error('a role postgres exists already');
    return { change: 'none', leftovers: [] };
  },
  undoOwnerConversion: async () => {
    world.calls.push('undo');
    if (!world.running) throw new Error('no running db container');
  },
  ownerIsSuperuser: async () => (world.calls.push('probe'), world.ownerSuper),
}));
vi.mock('../../src/operations/journal.js', () => ({
  OperationJournal: class {
    async reread(op: object) {
      if (world.rereadStep instanceof Error) throw world.rereadStep;
      return { ...op, step: world.rereadStep, state: 'running' };
    }
    async step(_op: unknown, step: string) { world.calls.push(`step:${step}`); }
    async finish(_op: unknown, state: string, _reason: unknown, within?: (client: unknown) => Promise<void>) {
      if (within) await within({});
      world.calls.push(`finish:${state}`);
    }
  },
}));
vi.mock('../../src/admin-db/database.js', () => ({ lockSpaces: { tenant: 1 } }));

const { resumeOwnerConversion, undoFailedConversion } = await import('../../src/tenants/owner-conversion.js');

const op = () => ({
  id: 3, tenant: 'acme', verb: 'owner-conversion' as const, host: 'h', step: 'helper-made', state: 'running' as const,
  data: { project: 'p-acme', service: 'db', owner: 'tenant_owner', database: 'tenant', change: 'separated' as const },
  reason: null, actor: 'a', startedAt: '', updatedAt: '',
});
const ctx = {
  clock: { now: () => 0 }, config: { healthDeadlineSeconds: 1 }, dockerHost: { id: 'h' }, pause: async () => {},
  signal: new AbortController().signal, reporter: { step: () => {}, info: () => {}, detail: () => {}, end: () => {} },
  adminDb: async () => ({ proveLock: async () => world.lock }),
} as unknown as import('../../src/context.js').Context;

beforeEach(() => {
  Object.assign(world, { calls: [], record: { id: 'acme', status: 'active', keptData: false }, running: true, ownerSuper: true, rereadStep: 'helper-made', lock: 'held', forwardFails: false });
});

describe('settling an interrupted owner conversion', () => {
  it('defers (no error, nothing done) when the tenant\'s database container is not running', async () => {
    world.running = false;
    expect(await resumeOwnerConversion(ctx, op())).toBe('deferred');
    expect(world.calls).toEqual([]);
  });

  it('defers for a stopped tenant, and closes undone one deprovisioned without its data', async () => {
    world.record = { id: 'acme', status: 'stopped', keptData: false };
    expect(await resumeOwnerConversion(ctx, op())).toBe('deferred');
    world.record = { id: 'acme', status: 'deprovisioned', keptData: false };
    expect(await resumeOwnerConversion(ctx, op())).toBe('undone');
    expect(world.calls).toEqual(['finish:undone']);
  });

  it('finishes forward with its audit row when the database runs', async () => {
    expect(await resumeOwnerConversion(ctx, op())).toBe('finished');
    expect(world.calls).toEqual(['forward', 'audit', 'finish:completed']);
  });
});

describe('an interrupted conversion that cannot go forward', () => {
  it('is undone under the tenant lock, and left alone (the first cause said) when the lock is not proven', async () => {
    world.forwardFails = true;
    expect(await resumeOwnerConversion(ctx, op())).toBe('undone');
    expect(world.calls).toEqual(['forward', 'undo', 'finish:undone']);
    world.calls = [];
    world.lock = 'lost';
    await expect(resumeOwnerConversion(ctx, op())).rejects.toThrow(/a role postgres exists already/);
    expect(world.calls).toEqual(['forward']);
  });
});

describe('a migrate whose conversion failed', () => {
  it('closes completed (never undoes) a conversion that committed though its memory says helper-made', async () => {
    world.ownerSuper = false;
    await undoFailedConversion(ctx, op(), new Error('boom'));
    expect(world.calls).toEqual(['probe', 'forward', 'audit', 'finish:completed']);
  });

  it('undoes one that did not commit', async () => {
    await undoFailedConversion(ctx, op(), new Error('boom'));
    expect(world.calls).toEqual(['probe', 'undo', 'finish:undone']);
  });

  it('does nothing to the tenant database when the journal cannot be read or the lock is not proven', async () => {
    world.rereadStep = new Error('admin database unreachable');
    await undoFailedConversion(ctx, op(), new Error('boom'));
    world.rereadStep = 'helper-made';
    world.lock = 'unknown';
    await undoFailedConversion(ctx, op(), new Error('boom'));
    expect(world.calls).toEqual([]);
  });
});
