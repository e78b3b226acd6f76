import { beforeEach, describe, expect, it, vi } from 'vitest';

// closeDoor is strict: the suspend verb records 'door-closed' only after it returned, so a sync
// that throws, or whose nginx -t refused this tenant's blocks, must fail it (the old hook swallowed both).
const sync = vi.hoisted(() => ({ result: undefined as unknown, error: undefined as Error | undefined, initialised: true }));
vi.mock('../../src/frontdoor/layout.js', () => ({ frontdoorLayout: () => ({}), isInitialised: async () => sync.initialised }));
vi.mock('../../src/frontdoor/sync.js', () => ({
  syncFrontdoor: async () => {
    if (sync.error) throw sync.error;
    return sync.result;
  },
}));

const { closeDoor } = await import('../../src/suspension/door.js');
const ctx = { config: {}, dockerHost: { id: 'h' }, homeHost: { id: 'h' } } as unknown as import('../../src/context.js').Context;

describe('closing a suspended tenant\'s door', () => {
  beforeEach(() => {
    sync.error = undefined;
    sync.initialised = true;
    sync.result = { refused: [] };
  });

  it('returns closed when the sync made it live, none without a front door', async () => {
    expect(await closeDoor(ctx, 'acme')).toBe('closed');
    sync.initialised = false;
    expect(await closeDoor(ctx, 'acme')).toBe('none');
  });

  it('fails when the sync fails or nginx -t refused this tenant (another tenant refused does not)', async () => {
    sync.error = new Error('nginx did not reload');
    await expect(closeDoor(ctx, 'acme')).rejects.toThrow('nginx did not reload');
    sync.error = undefined;
    sync.result = { refused: [{ tenant: 'acme', reason: 'unexpected "}"' }] };
    await expect(closeDoor(ctx, 'acme')).rejects.toThrow(/refused acme's suspended configuration/);
    sync.result = { refused: [{ tenant: 'globex', reason: 'x' }] };
    expect(await closeDoor(ctx, 'acme')).toBe('closed');
  });
});
