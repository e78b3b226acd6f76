import { describe, expect, it } from 'vitest';
import { modulesOfDocument, modulesToSet } from '../../src/pitr/backup-document.js';

// A physical restore sets the tenant's modules back to those its backup's tenant.json recorded:
// what of that file goes into the restore's intent, and what is refused before anything is recorded.

describe('the modules a physical backup records', () => {
  it('keeps each module\'s key and on/off, nothing else of it', () => {
    const document = { modules: [{ key: 'ai_assistant', enabled: true, name: 'AI', monthlyPrice: 20 }, { key: 'sso', enabled: false }] };
    expect(modulesOfDocument('b1', document as never)).toEqual([{ key: 'ai_assistant', enabled: true }, { key: 'sso', enabled: false }]);
  });

  it('none recorded is none to set (the modules are left as they are)', () => {
    expect(modulesOfDocument('b1', {} as never)).toEqual([]);
    expect(modulesOfDocument('b1', { modules: [] })).toEqual([]);
  });

  it('refuses (exit 2, nothing changed) a list that is not of {key, enabled}', () => {
    for (const modules of ['ai_assistant', { ai_assistant: true }, [null], [{ key: 'sso' }], [{ key: 'sso', enabled: 'yes' }], [{ key: '', enabled: true }], [{ key: 7, enabled: true }]]) {
      let thrown: unknown;
      try {
        modulesOfDocument('b1', { modules } as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(modules)).toMatchObject({ kind: 'usage', message: expect.stringMatching(/^backup b1 is unusable: its tenant\.json.*nothing was changed$/) });
    }
  });

  it('a finished restore sets only a physical restore\'s recorded modules; a to-time restore\'s, or an intent of older code, leaves them', () => {
    const modules = [{ key: 'ai_assistant', enabled: true }];
    const physical = { backup: 'b1', snapshotId: 's', file: '/f', bytes: 1 };
    expect(modulesToSet({ physical, modules })).toEqual(modules);
    expect(modulesToSet({ physical, modules: [] })).toEqual([]);
    expect(modulesToSet({ physical })).toBeUndefined();
    expect(modulesToSet({ modules })).toBeUndefined();
  });
});
