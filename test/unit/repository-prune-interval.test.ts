import { describe, expect, it } from 'vitest';
import { pruneDue } from '../../src/repository/prune-interval.js';

// `restic prune` once per repository per interval (src/repository/prune-interval.ts): due only when
// a forget left data behind (owed) and the last prune is older than backups.pruneIntervalMinutes.

describe('whether restic prune runs now', () => {
  const at = (iso: string) => new Date(iso);
  const now = Date.parse('2026-12-06T12:00:00Z');

  it('never when nothing was forgotten since the last prune', () => {
    expect(pruneDue(undefined, 60, now)).toMatchObject({ due: false });
    expect(pruneDue({ owedSince: null, prunedAt: at('2026-12-01T00:00:00Z') }, 60, now)).toMatchObject({ due: false, detail: /nothing forgotten/ });
  });

  it('owed and never pruned, or the last prune older than the interval: due', () => {
    expect(pruneDue({ owedSince: at('2026-12-06T11:59:00Z'), prunedAt: null }, 1440, now).due).toBe(true);
    expect(pruneDue({ owedSince: at('2026-12-06T11:59:00Z'), prunedAt: at('2026-12-06T10:59:59Z') }, 60, now).due).toBe(true);
  });

  it('owed within the interval: deferred, saying when it is due; interval 0 prunes after every forget', () => {
    const deferred = pruneDue({ owedSince: at('2026-12-06T11:59:00Z'), prunedAt: at('2026-12-06T11:30:00Z') }, 60, now);
    expect(deferred.due).toBe(false);
    expect(deferred.detail).toMatch(/deferred.*next is due at 2026-12-06T12:30:00.000Z.*pruneIntervalMinutes 60/);
    expect(pruneDue({ owedSince: at('2026-12-06T11:59:00Z'), prunedAt: at('2026-12-06T11:59:30Z') }, 0, now).due).toBe(true);
  });
});
