import { renderEvents } from '../../src/watch/render.js';
import { configSchema } from '../../src/config/schema.js';
import { describe, expect, it } from 'vitest';
import { AdminDb, lockSpaces } from '../../src/admin-db/database.js';
import { currentLockScope, inOwnLockScope, mayReenter } from '../../src/common/lock-scope.js';
import { runLoop } from '../../src/agent/loop.js';
import { RequestQueue, requestsLoop } from '../../src/agent/requests.js';
import type { AgentContext } from '../../src/agent/context.js';
import { systemClock } from '../../src/common/clock.js';
import { endpointsDue } from '../../src/alerts/repeat.js';
import { alertKinds } from '../../src/alerts/kinds.js';
import { countedSince, doctorFindingsAlert, findingsKey, missedBackups, missedScheduleKey, missedSchedules, type ScheduleFreshness } from '../../src/schedules/alerts.js';
import { behindBefore, judgeLag, lagAlert, lagTransition, type ShippingRecord } from '../../src/agent/pitr-lag.js';

// Issue 22's review leftovers: a lock scope per job (M1), alert repeats from what was sent (M3),
// missed counted from a schedule's creation (M4), pitr.lagging / pitr.caught-up and doctor.findings.

/** An AdminDb over a fake pool whose every connection takes any advisory lock it is asked for. */
function lockingDb(): { db: AdminDb; unlocks: string[] } {
  const unlocks: string[] = [];
  const client = {
    query: async (sql: string, params: unknown[]) => {
      if (/pg_advisory_unlock/.test(sql)) unlocks.push(String(params[1]));
      return { rows: [{ locked: true, pid: 7, started: 'then' }] };
    },
    on: () => client, off: () => client, release: () => {},
  };
  const pool = { connect: async () => client };
  // The constructor is private: AdminDb.open would connect and migrate a real database.
  const db = new (AdminDb as unknown as new (pool: unknown, actor: string, patienceMs: number) => AdminDb)(pool, 'test', 1_000);
  return { db, unlocks };
}

describe('a lock scope per job (review M1)', () => {
  it('re-entry is the owning task\'s or a task nested in it; a sibling task or the top is refused', async () => {
    await inOwnLockScope(async () => {
      const owner = currentLockScope();
      await inOwnLockScope(async () => expect(mayReenter(owner, currentLockScope())).toBe(true));
      expect(mayReenter(owner, owner)).toBe(true);
      expect(mayReenter(undefined, owner)).toBe(true);
    });
    const [a, b] = await Promise.all([inOwnLockScope(async () => currentLockScope()), inOwnLockScope(async () => currentLockScope())]);
    expect(mayReenter(a, b)).toBe(false);
    expect(mayReenter(a, undefined)).toBe(false);
  });

  it('a tenant lock one job holds is refused to another job of the process, and its end does not end the other\'s hold', async () => {
    const { db, unlocks } = lockingDb();
    let releaseA!: () => void;
    const aMayEnd = new Promise<void>((resolve) => { releaseA = resolve; });
    let aHolds!: () => void;
    const aHeld = new Promise<void>((resolve) => { aHolds = resolve; });
    const jobA = inOwnLockScope(async () => {
      const release = (await db.tryLock(lockSpaces.tenant, 'acme'))!;
      expect(db.holds(lockSpaces.tenant, 'acme')).toBe(true);
      // Its own nested verb (a move's backup) takes it again at once.
      const nested = await inOwnLockScope(() => db.tryLock(lockSpaces.tenant, 'acme'));
      expect(nested).toBeDefined();
      await nested!();
      aHolds();
      await aMayEnd;
      await release();
    });
    await aHeld;
    const jobB = await inOwnLockScope(async () => ({ lock: await db.tryLock(lockSpaces.tenant, 'acme'), holds: db.holds(lockSpaces.tenant, 'acme') }));
    // Before: B nested into A's lock and worked on acme at once with A.
    expect(jobB.lock).toBeUndefined();
    expect(jobB.holds).toBe(false);
    releaseA();
    await jobA;
    // A's release is the only one: the lock is let go once, when A ends.
    expect(unlocks).toEqual(['acme']);
    const after = await inOwnLockScope(() => db.tryLock(lockSpaces.tenant, 'acme'));
    expect(after).toBeDefined();
  });

  it('each request job runs in a scope of its own, nested in the loop\'s tick', async () => {
    const seen: Array<ReturnType<typeof currentLockScope>> = [];
    let started = 0;
    let go!: () => void;
    const gate = new Promise<void>((resolve) => { go = resolve; });
    const queue = new RequestQueue(new Map([['wake', async () => {
      seen.push(currentLockScope());
      started += 1;
      if (started === 2) go();
      await gate;
    }]]));
    const agent: AgentContext = {
      ctx: { clock: systemClock } as never, db: {} as never, hostId: 'h1', isLeader: () => true,
      leadership: { session: undefined, termSignal: new AbortController().signal, during: (work) => work() }, log: () => {},
    };
    const stop = new AbortController();
    const running = runLoop(requestsLoop(queue, 3_600_000), agent, stop.signal);
    while (running.state.ticks === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const first = queue.submit({ kind: 'wake', target: 'acme', requestedBy: 't' });
    while (started === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // Submitted while the tick runs: started by the submit itself, in the submitter's context.
    const second = queue.submit({ kind: 'wake', target: 'globex', requestedBy: 't' });
    await Promise.all([first, second]);
    stop.abort();
    await running.stopped;
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBeDefined();
    expect(seen[0]).not.toBe(seen[1]);
    // Siblings: neither may take again what the other holds.
    expect(mayReenter(seen[0], seen[1])).toBe(false);
    // Both under the loop's tick, the one a submit started too.
    expect(seen[0]!.parent).toBeDefined();
    expect(seen[0]!.parent).toBe(seen[1]!.parent);
  });
});

describe('alert repeats from the deliveries on record (review M3)', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  const day = 24 * 3_600_000;
  const endpoints = [{ id: 'ep-all', events: [] }, { id: 'ep-disk', events: ['disk.over-plan'] }, { id: 'ep-down', events: ['tenant.down'] }];

  it('is due for each endpoint that takes the kind and got none of the key within the interval', () => {
    expect(endpointsDue(endpoints, 'disk.over-plan', new Map(), now, day)).toEqual(['ep-all', 'ep-disk']);
    // Sent to one an hour ago (by this agent before its restart, or by the other leader): not again.
    expect(endpointsDue(endpoints, 'disk.over-plan', new Map([['ep-all', now - 3_600_000]]), now, day)).toEqual(['ep-disk']);
    expect(endpointsDue(endpoints, 'disk.over-plan', new Map([['ep-all', now - day], ['ep-disk', now - day + 1]]), now, day)).toEqual(['ep-all']);
    expect(endpointsDue(endpoints, 'backup.missed', new Map(), now, day)).toEqual(['ep-all']);
  });
});

describe('missed runs counted from the schedule\'s creation (review M4)', () => {
  const hour = 3_600_000;
  const now = Date.parse('2026-12-06T12:00:00.000Z');
  const at = (msAgo: number) => new Date(now - msAgo).toISOString();

  it('a schedule added an hour ago has missed nothing, however old the last success before it', () => {
    expect(countedSince(at(hour), at(30 * 24 * hour))).toBe(now - hour);
    expect(countedSince(at(100 * hour), at(13 * hour))).toBe(now - 13 * hour);
    expect(countedSince(at(hour), null, at(50 * hour))).toBe(now - hour);
    expect(countedSince('not a date', null)).toBeNaN();
    const fresh = (over: Partial<ScheduleFreshness>): ScheduleFreshness => ({ kind: 'admin-backup', target: '*', spec: 'every 6h', everySeconds: 6 * 3600, createdAt: at(hour), lastSucceededAt: at(13 * hour), ...over });
    expect(missedSchedules([fresh({})], now)).toEqual([]);
    expect(missedSchedules([fresh({ createdAt: at(14 * hour) })], now).map((m) => m.staleSeconds)).toEqual([13 * 3600]);
  });

  it('a plan\'s tenants are missed from their last backup, their provisioning or the schedule\'s creation, whichever is latest', () => {
    const tenants = [
      { id: 'old', provisionedAt: at(1000 * hour), lastSucceededAt: at(500 * hour) },
      { id: 'never', provisionedAt: at(1000 * hour), lastSucceededAt: null },
      { id: 'new', provisionedAt: at(hour), lastSucceededAt: null },
    ];
    // The schedule (every 1h) was added 30 minutes ago: nobody missed anything yet.
    expect(missedBackups({ createdAt: at(hour / 2), everySeconds: 3600 }, tenants, now)).toEqual([]);
    // Three hours ago: the two old tenants missed theirs; the one provisioned an hour ago did not.
    expect(missedBackups({ createdAt: at(3 * hour), everySeconds: 3600 }, tenants, now).map((t) => [t.id, t.staleSeconds])).toEqual([['old', 3 * 3600], ['never', 3 * 3600]]);
  });
});

describe('repeat keys', () => {
  it('a missed schedule\'s key names its host: retention and certificate renewal exist on every host, and one host\'s delivery must not silence another\'s', () => {
    const retention = { kind: 'retention' as const, target: 'standard' };
    expect(missedScheduleKey('h1', retention)).not.toBe(missedScheduleKey('h2', retention));
    expect(missedScheduleKey('h1', { kind: 'certificate-renewal', target: '*' })).not.toBe(missedScheduleKey('h2', { kind: 'certificate-renewal', target: '*' }));
    expect(missedScheduleKey('h1', retention)).toBe('schedule-missed:h1:retention:standard');
  });
});

describe('doctor.findings (a scheduled doctor run)', () => {
  const orphan = { kind: 'orphan-folder', tenant: 'ghost', detail: 'customers/ghost/ has no tenant (4 s old)' };
  const stuck = { kind: 'stuck', tenant: 'acme', detail: 'provisioning for 3 h' };

  it('is raised once per new set of findings, whatever their wording; not for none, nor for the same set again', () => {
    expect(findingsKey([])).toBe('');
    expect(findingsKey([orphan, stuck])).toBe(findingsKey([{ ...stuck, detail: 'provisioning for 4 h' }, orphan]));
    expect(findingsKey([orphan])).not.toBe(findingsKey([orphan, stuck]));
    const first = doctorFindingsAlert('h1', [orphan], null, 7);
    expect(first.alert).toMatchObject({ kind: 'doctor.findings', host: 'h1', detail: { run: '7', count: 1, kinds: ['orphan-folder'], findings: [{ kind: 'orphan-folder', tenant: 'ghost' }] } });
    expect(first.alert!.summary).toMatch(/^doctor on h1 found 1 discrepancy \(orphan-folder\): tenantctl doctor --host h1/);
    const recorded = (r: { key: string; compared: Array<{ kind: string; tenant: string }> }) => ({ key: r.key, compared: r.compared.map((f) => ({ ...f, detail: '' })) });
    expect(doctorFindingsAlert('h1', [{ ...orphan, detail: 'customers/ghost/ has no tenant (9 s old)' }], recorded(first), 8).alert).toBeUndefined();
    expect(doctorFindingsAlert('h1', [orphan, stuck], recorded(first), 9).alert?.detail).toMatchObject({ count: 2, kinds: ['orphan-folder', 'stuck'] });
    expect(doctorFindingsAlert('h1', [], recorded(first), 10)).toEqual({ key: '', compared: [] });
    // An operation in flight at that moment is no discrepancy: it changes nothing.
    expect(doctorFindingsAlert('h1', [orphan, { kind: 'operation-in-flight', tenant: 'acme', detail: 'restore running' }], recorded(first), 12)).toMatchObject({ key: first.key });
    // Cleared, then back: a new set again.
    expect(doctorFindingsAlert('h1', [orphan], { key: '', compared: [] }, 11).alert).toBeDefined();
  });

  it('a tenant busy with a command keeps its previous findings in the compared set: the overlap and its end raise nothing', () => {
    const both = doctorFindingsAlert('h1', [orphan, stuck], null, 1);
    expect(both.alert).toBeDefined();
    const recorded = (r: { key: string; compared: Array<{ kind: string; tenant: string }> }) => ({ key: r.key, compared: r.compared.map((f) => ({ ...f, detail: '' })) });
    // acme busy (findings.ts leaves out its other findings): its stuck finding is unknown, not gone.
    const busy = doctorFindingsAlert('h1', [orphan, { kind: 'operation-in-flight', tenant: 'acme', detail: 'restore running' }], recorded(both), 2);
    expect(busy.alert).toBeUndefined();
    expect(busy.key).toBe(both.key);
    // The command over, the same set again: nothing raised.
    expect(doctorFindingsAlert('h1', [orphan, stuck], recorded(busy), 3).alert).toBeUndefined();
    // It did clear meanwhile: the next run's smaller set is new.
    expect(doctorFindingsAlert('h1', [orphan], recorded(busy), 3).alert).toBeDefined();
  });
});

describe('pitr.lagging and pitr.caught-up', () => {
  const now = Date.parse('2026-12-06T12:00:00Z');
  const record = (over: Partial<ShippingRecord>): ShippingRecord => ({ tenant: 'acme', lagSeconds: 30, waiting: 0, lastError: null, failingSeconds: null, checkedAt: new Date(now - 10_000).toISOString(), ...over });

  it('judges from the shipping record: an idle database with nothing waiting is caught up however old its newest segment', () => {
    expect(judgeLag(record({}), now, 900)).toEqual({ behind: false });
    expect(judgeLag(record({ lagSeconds: 86_400 }), now, 900)).toEqual({ behind: false });
    expect(judgeLag(record({ lagSeconds: 86_400, waiting: 3 }), now, 900)).toMatchObject({ behind: true, reason: expect.stringMatching(/^3 archived segment\(s\) wait in the volume; the newest shipped segment was archived 86400 s ago/) });
    expect(judgeLag(record({ lagSeconds: 60, waiting: 3 }), now, 900).behind).toBe(false);
    // Failing shipping is judged by how long it has failed, not by the newest segment's age: an idle
    // tenant's is old at once (it was behind at the first failure), a busy one's stays young.
    expect(judgeLag(record({ lastError: 'restic: repository locked', lagSeconds: 1000, failingSeconds: 1000 }), now, 900)).toMatchObject({ behind: true, reason: expect.stringMatching(/^shipping has failed for 1000 s \(restic: repository locked\)/) });
    expect(judgeLag(record({ lastError: 'restic: repository locked', lagSeconds: 86_400, failingSeconds: 60 }), now, 900).behind).toBe(false);
    expect(judgeLag(record({ lastError: 'restic: repository locked', lagSeconds: 100, failingSeconds: 901 }), now, 900).behind).toBe(true);
    expect(judgeLag(record({ lastError: 'no archive', lagSeconds: null, failingSeconds: 5 }), now, 900).behind).toBe(false);
    expect(judgeLag(record({ lastError: 'no archive', lagSeconds: null, failingSeconds: 1200 }), now, 900).behind).toBe(true);
    expect(judgeLag(record({ checkedAt: new Date(now - 1_000_000).toISOString() }), now, 900)).toMatchObject({ behind: true, reason: 'no shipment recorded for 1000 s' });
  });

  it('is lagging once behind on two records, caught up at once, and each transition once', () => {
    expect(lagTransition(null, true, false)).toBeUndefined();
    expect(lagTransition(null, true, true)).toBe('lagging');
    expect(lagTransition('caught-up', true, true)).toBe('lagging');
    expect(lagTransition('lagging', true, true)).toBeUndefined();
    expect(lagTransition('lagging', false, false)).toBe('caught-up');
    expect(lagTransition(null, false, false)).toBeUndefined();
    expect(lagTransition('caught-up', false, false)).toBeUndefined();
    const r = record({ waiting: 2, lagSeconds: 5000 });
    expect(behindBefore(undefined, r, now, 30_000)).toBe(false);
    expect(behindBefore({ checkedAt: r.checkedAt, seenAt: now - 10_000 }, r, now, 30_000)).toBe(false);
    expect(behindBefore({ checkedAt: new Date(now - 40_000).toISOString(), seenAt: now - 30_000 }, r, now, 30_000)).toBe(true);
    expect(behindBefore({ checkedAt: r.checkedAt, seenAt: now - 61_000 }, r, now, 30_000)).toBe(true);
    const alert = lagAlert('h1', 'acme', 'lagging', judgeLag(r, now, 900), r, 900);
    expect(alert).toMatchObject({ kind: 'pitr.lagging', tenant: 'acme', host: 'h1', detail: { boundSeconds: 900, waiting: 2, lagSeconds: 5000 } });
    expect(lagAlert('h1', 'acme', 'caught-up', { behind: false }, record({}), 900).kind).toBe('pitr.caught-up');
  });

  it('the new kinds are ones an endpoint can subscribe to (alerts add --help lists them from the code)', () => {
    for (const kind of ['pitr.lagging', 'pitr.caught-up', 'doctor.findings']) expect(alertKinds).toContain(kind);
  });
});

describe('agent.walLagAlertSeconds', () => {
  it('is refused under two pitr.shipIntervalSeconds, naming the setting', () => {
    const bad = configSchema.safeParse({ agent: { walLagAlertSeconds: 100 }, pitr: { shipIntervalSeconds: 60 } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]).toMatchObject({ path: ['agent', 'walLagAlertSeconds'], message: expect.stringMatching(/at least two pitr.shipIntervalSeconds/) });
    expect(configSchema.safeParse({ agent: { walLagAlertSeconds: 120 }, pitr: { shipIntervalSeconds: 60 } }).success).toBe(true);
    expect(configSchema.safeParse({}).success).toBe(true);
  });
});

describe('events of the WAL lag check', () => {
  it('`events` shows their reason as the detail, not "-"', () => {
    const at = '2026-12-06T12:00:00.000Z';
    const shown = renderEvents([
      { id: '1', at, tenant: 'acme', host: 'h1', kind: 'pitr.lagging', from: null, to: 'lagging', detail: { reason: 'shipping has failed for 1000 s (restic: locked)' } },
      { id: '2', at, tenant: 'acme', host: 'h1', kind: 'pitr.caught-up', from: 'lagging', to: 'caught-up', detail: lagAlert('h1', 'acme', 'caught-up', { behind: false }, { tenant: 'acme', lagSeconds: 5, waiting: 0, lastError: null, failingSeconds: null, checkedAt: at }, 900).detail as Record<string, unknown> },
    ]);
    expect(shown).toMatch(/pitr\.lagging .*shipping has failed for 1000 s/);
    expect(shown).toMatch(/pitr\.caught-up .*caught up: shipping within 900 s again/);
  });
});
