import { describe, expect, it } from 'vitest';
import { modulesDiffering } from '../../src/modules/set-back.js';

// A restore sets back only the modules whose state differs from the tenant's now: those are what it
// changes and names in its audit row; the rest, and a module the catalogue no longer has, are left.

describe('the modules a restore sets back', () => {
  const now = new Map([['ai_assistant', false], ['sso', true], ['reports', false]]);

  it('only those that differ, in the recorded order', () => {
    expect(modulesDiffering(now, [{ key: 'sso', enabled: false }, { key: 'reports', enabled: false }, { key: 'ai_assistant', enabled: true }]))
      .toEqual([{ key: 'sso', enabled: false }, { key: 'ai_assistant', enabled: true }]);
  });

  it('none when the tenant already has the recorded state (what a resumed run finds after a committed close)', () => {
    expect(modulesDiffering(now, [{ key: 'sso', enabled: true }, { key: 'ai_assistant', enabled: false }])).toEqual([]);
    expect(modulesDiffering(now, [])).toEqual([]);
  });

  it('leaves out a module the catalogue no longer has', () => {
    expect(modulesDiffering(now, [{ key: 'retired', enabled: true }, { key: 'reports', enabled: true }])).toEqual([{ key: 'reports', enabled: true }]);
  });
});
