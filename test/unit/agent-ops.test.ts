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

describe('the watch\'s expected services, kept while the compose file is unchanged', () => {
  it('parses a tenant\'s file once while its content is unchanged, again when it is replaced or rewritten in place, and forgets it when it is gone', async () => {
    const { mkdirSync, writeFileSync, rmSync, renameSync } = await import('node:fs');
    const path = await import('node:path');
    const { tempDir } = await import('./temp-dirs.js');
    const { expectedServices } = await import('../../src/watch/expected.js');
    const dir = tempDir('tct-expected-');
    const file = path.join(dir, 'acme', 'docker-compose.yml');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, 'services:\n  app: { image: a, restart: unless-stopped }\n  db: { image: b, restart: unless-stopped }\n');
    const first = await expectedServices(dir, 'acme', []);
    expect(first?.map((s) => s.name)).toEqual(['app', 'db']);
    // Unchanged: the same answer, not parsed again (the very same array).
    expect(await expectedServices(dir, 'acme', [])).toBe(first);
    // Replaced by a new file renamed over it (as an editor saves): parsed again.
    writeFileSync(`${file}.new`, 'services:\n  app: { image: a, restart: unless-stopped }\n  worker: { image: c, restart: "no" }\n');
    renameSync(`${file}.new`, file);
    const second = await expectedServices(dir, 'acme', []);
    expect(second?.map((s) => [s.name, s.oneShot])).toEqual([['app', false], ['worker', true]]);
    // Rewritten in place, as tenantctl writes it (src/tenants/files.ts), with content of the same
    // size at once (within one timestamp tick a stat could not tell): its content is what counts.
    writeFileSync(file, 'services:\n  app: { image: a, restart: unless-stopped }\n  wrker: { image: c, restart: "no" }\n ');
    expect((await expectedServices(dir, 'acme', []))?.map((s) => s.name)).toEqual(['app', 'wrker']);
    rmSync(file);
    expect(await expectedServices(dir, 'acme', [])).toBeUndefined();
  });
});
