import { describe, expect, it } from 'vitest';
import { findDiscrepancies, type Snapshot } from '../../src/doctor/findings.js';
import { alertKinds } from '../../src/alerts/kinds.js';
import { configSchema } from '../../src/config/schema.js';
import * as z from 'zod/mini';

function snapshot(over: Partial<Snapshot>): Snapshot {
  return { host: 'h1', engineId: 'E1', hosts: [{ name: 'h1', engineId: 'E1' }], elsewhere: {}, projectPrefix: 't', rows: [], allocations: [], operations: [], stacks: [], folders: [], expectedServices: [], ...over };
}

describe('doctor and agent heartbeats', () => {
  const beat = (host: string, ageSeconds: number) => ({ host, ageSeconds, beatAt: '2026-12-06T10:00:00.000Z' });

  it('a host whose newest beat is older than agent.silentAfterSeconds is an agent-silent finding, not fixable; fresh ones are none', () => {
    const found = findDiscrepancies(snapshot({ agents: { silentAfterSeconds: 120, beats: [beat('h1', 3), beat('h2', 121), beat('h3', 120)] } }));
    expect(found).toEqual([expect.objectContaining({ kind: 'agent-silent', tenant: '', host: 'h2', fixable: false, detail: expect.stringMatching(/no agent of Docker host h2 has beaten for 121 s/) })]);
    expect(found[0]!.fix).toMatch(/tenantctl agent status/);
  });

  it('says nothing when the heartbeats are unknown (a role that cannot read them)', () => {
    expect(findDiscrepancies(snapshot({}))).toEqual([]);
  });
});

describe('agent operations settings and kinds', () => {
  it('heartbeats every 15 s and silent after 120 s by default; the policy stays off by default', () => {
    const config = z.parse(configSchema, {});
    expect(config.agent).toMatchObject({ heartbeatSeconds: 15, silentAfterSeconds: 120 });
    expect(config.suspension.deprovisionAfterDays).toBeNull();
    expect(() => z.parse(configSchema, { agent: { silentAfterSeconds: 5 } })).toThrow();
  });

  it('the heartbeats\' and the policy\'s alerts can be subscribed to (alerts add --events)', () => {
    for (const kind of ['host.agent-silent', 'host.agent-back', 'suspension.deprovisioned', 'suspension.deprovision-failed', 'host.unreachable', 'host.reachable']) {
      expect(alertKinds).toContain(kind);
    }
    // The events table's check (018) takes every kind the agent records.
    for (const kind of alertKinds.filter((k) => k !== 'test')) expect(kind).toMatch(/^[a-z]+\.[a-z-]+$/);
  });
});
