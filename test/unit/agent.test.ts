import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { intervalSeconds } from '../../src/common/interval.js';
import { loadConfig } from '../../src/config/load.js';
import { desiredSchedules } from '../../src/schedules/desired.js';
import { runLoop, type AgentLoop } from '../../src/agent/loop.js';
import type { AgentContext } from '../../src/agent/context.js';
import { startServer, sendJson, hostAllowed } from '../../src/agent/server.js';
import { Leadership } from '../../src/agent/leader.js';
import { currentLockScope } from '../../src/common/lock-scope.js';
import http from 'node:http';
import { systemClock } from '../../src/common/clock.js';
import { tempDir } from './temp-dirs.js';

describe('schedule intervals', () => {
  it('reads every <n>s|m|h|d and off', () => {
    expect(intervalSeconds('every 24h')).toBe(86_400);
    expect(intervalSeconds('every 30m')).toBe(1_800);
    expect(intervalSeconds('every 7d')).toBe(604_800);
    expect(intervalSeconds('every 90s')).toBe(90);
    expect(intervalSeconds(' every 1h ')).toBe(3_600);
    expect(intervalSeconds('off')).toBeUndefined();
  });

  it('refuses anything else with one line naming the setting (exit 2)', () => {
    for (const bad of ['daily', 'every 0h', 'every 1w', 'every -1h', '0 3 * * *', 'every 1.5h', 'every 59s', '']) {
      expect(() => intervalSeconds(bad, 'plans.standard.backupSchedule'), bad).toThrowError(/^plans\.standard\.backupSchedule /);
    }
    const error = (() => {
      try {
        intervalSeconds('every 10s');
        return undefined;
      } catch (caught) {
        return caught as Error & { exitCode: number };
      }
    })();
    expect(error?.exitCode).toBe(2);
    expect(error?.message).toMatch(/shortest interval is 60s/);
  });
});

describe('schedules from the configuration', () => {
  const load = (yaml: string) => {
    const cwd = tempDir('tenantctl-agent-');
    writeFileSync(path.join(cwd, 'tenantctl.config.yaml'), yaml);
    return loadConfig({ cwd, env: {} });
  };

  it('by default: only the doctor report, every 6h (backups are opted into per plan)', () => {
    const { config, errors } = load('{}\n');
    expect(errors).toEqual([]);
    expect(desiredSchedules(config!)).toEqual([{ kind: 'doctor', target: '*', spec: 'every 6h', everySeconds: 21_600, keep: null }]);
  });

  it('a backup schedule per plan that has one, retention per plan with backupKeep', () => {
    const { config, errors } = load('plans:\n  standard: { backupSchedule: every 24h, backupKeep: 7 }\n  enterprise: { backupSchedule: every 6h }\nagent: { doctorSchedule: "off", retentionSchedule: every 2h }\n');
    expect(errors).toEqual([]);
    expect(desiredSchedules(config!)).toEqual([
      { kind: 'backup', target: 'standard', spec: 'every 24h', everySeconds: 86_400, keep: null },
      { kind: 'retention', target: 'standard', spec: 'every 2h', everySeconds: 7_200, keep: 7 },
      { kind: 'backup', target: 'enterprise', spec: 'every 6h', everySeconds: 21_600, keep: null },
    ]);
  });

  it('the admin database into the repository, when one is configured and the admin database is the local one', () => {
    const { config, errors } = load('backups: { repository: /srv/repo }\nagent: { doctorSchedule: "off", adminBackupSchedule: every 2h }\n');
    expect(errors).toEqual([]);
    expect(desiredSchedules(config!)).toEqual([{ kind: 'admin-backup', target: '*', spec: 'every 2h', everySeconds: 7_200, keep: null }]);
    const managed = load('backups: { repository: /srv/repo }\nadminDatabase: { url: "postgres://u:p@db.example/admin" }\nagent: { doctorSchedule: "off" }\n');
    expect(desiredSchedules(managed.config!)).toEqual([]);
    const off = load('backups: { repository: /srv/repo }\nagent: { doctorSchedule: "off", adminBackupSchedule: "off" }\n');
    expect(desiredSchedules(off.config!)).toEqual([]);
  });

  it('a bad interval in the file is a config error with its path', () => {
    const { config, errors } = load('plans:\n  starter: { backupSchedule: nightly }\n');
    expect(config).toBeUndefined();
    expect(errors.join('\n')).toMatch(/plans\.starter\.backupSchedule/);
  });

  it('the agent\'s configuration (the loaded one, written back as agent up does) loads again unchanged', () => {
    const { config } = load('plans:\n  standard: { backupSchedule: every 24h }\nagent: { port: 9999 }\n');
    const again = load(stringify({ ...config, adminDatabase: { ...config!.adminDatabase, url: 'postgres://tenantctl_agent:x@127.0.0.1:5433/tenantctl_admin' } }));
    expect(again.errors).toEqual([]);
    expect(again.config!.plans).toEqual(config!.plans);
    expect(again.config!.agent.port).toBe(9999);
    expect(again.config!.backupsDir).toBe(config!.backupsDir);
  });
});

describe('the agent\'s loop runner', () => {
  const agentContext = (lines: string[]): AgentContext => ({ ctx: { clock: systemClock } as never, db: {} as never, hostId: 'h', isLeader: () => true, leadership: {} as never, log: (l) => lines.push(l) });

  it('runs one tick at a time, keeps a failing tick\'s error and goes on, and stops on abort', async () => {
    const lines: string[] = [];
    let inFlight = 0;
    let most = 0;
    let calls = 0;
    const loop: AgentLoop = {
      name: 'flaky',
      intervalMs: 5,
      async tick() {
        inFlight += 1;
        most = Math.max(most, inFlight);
        calls += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight -= 1;
        if (calls % 2 === 1) throw new Error(`tick ${calls} failed`);
      },
    };
    const controller = new AbortController();
    const running = runLoop(loop, agentContext(lines), controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 120));
    controller.abort();
    await running.stopped;
    expect(most).toBe(1);
    expect(running.state.ticks).toBeGreaterThanOrEqual(4);
    expect(running.state.failures).toBe(Math.ceil(running.state.ticks / 2));
    expect(running.state.lastError).toMatch(/^tick \d+ failed$/);
    expect(lines[0]).toBe('loop flaky: tick 1 failed');
    const ticks = running.state.ticks;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(running.state.ticks).toBe(ticks);
  });

  it('a tick that throws something other than an Error is kept as text', async () => {
    const controller = new AbortController();
    const running = runLoop({ name: 'odd', intervalMs: 1_000, tick: async () => { throw 'a string'; } }, agentContext([]), controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await running.stopped;
    expect(running.state.lastError).toBe('a string');
  });
});

describe('the agent\'s server', () => {
  it('serves its route table on loopback, 404 for other paths and 405 for other methods', async () => {
    const server = await startServer(new Map([['/healthz', (_q, r) => sendJson(r, 200, { ok: true })]]), 0);
    const port = (server.address() as { port: number }).port;
    try {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ ok: true });
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`, { method: 'POST' })).status).toBe(405);
      expect((server.address() as { address: string }).address).toBe('127.0.0.1');
    } finally {
      server.close();
    }
  });
});

describe('the agent\'s server against DNS rebinding and leaks', () => {
  it('answers only to 127.0.0.1, localhost or [::1] with its own port', () => {
    for (const ok of ['127.0.0.1:9182', 'localhost:9182', 'LOCALHOST:9182', '[::1]:9182']) expect(hostAllowed(ok, 9182), ok).toBe(true);
    for (const bad of [undefined, '', 'evil.example:9182', '127.0.0.1', 'localhost:9183', '127.0.0.1:9182.evil.example', 'localhost.:9182']) expect(hostAllowed(bad, 9182), String(bad)).toBe(false);
  });

  it('a foreign Host header is 421, and a failing route is a 500 without its internal message', async () => {
    const logged: unknown[] = [];
    const server = await startServer(new Map([['/boom', () => { throw new Error('secret path /var/lib/x and SQL'); }]]), 0, (e) => logged.push(e));
    const port = (server.address() as { port: number }).port;
    const ask = (host: string, p: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: p, headers: { host } }, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject);
    });
    try {
      expect((await ask(`evil.example:${port}`, '/boom')).status).toBe(421);
      const failed = await ask(`localhost:${port}`, '/boom');
      expect(failed.status).toBe(500);
      expect(failed.body).not.toMatch(/secret|SQL/);
      expect(logged).toHaveLength(1);
      expect(server.maxConnections).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  });
});

describe('leadership', () => {
  /** A fake AdminDb: what the leader lock's proof answers, and whether it was released. */
  const fakeDb = (answers: Array<'held' | 'lost' | 'unknown'>) => {
    const calls = { released: 0 };
    const db = {
      tryLock: async () => async () => { calls.released += 1; },
      proveLock: async () => answers.shift() ?? 'held',
      lockSession: () => ({ pid: 1, started: 's' }),
    };
    return { db: db as never, calls };
  };

  it('keeps leading when the database cannot answer, and aborts the term\'s jobs when the lock is lost', async () => {
    const { db, calls } = fakeDb(['unknown', 'held', 'lost']);
    const l = new Leadership(db, 'h');
    expect(await l.check(Date.now)).toBe('gained');
    const term = l.termSignal!;
    expect(await l.check(Date.now)).toBeUndefined();
    expect(l.isLeader).toBe(true);
    expect(await l.check(Date.now)).toBeUndefined();
    expect(term.aborted).toBe(false);
    expect(await l.check(Date.now)).toBe('lost');
    expect(term.aborted).toBe(true);
    expect(l.isLeader).toBe(false);
    expect(await l.check(Date.now)).toBe('gained');
    expect(l.termSignal).not.toBe(term);
    expect(calls.released).toBe(1);
  });

  it('does not unlock at stop while a job of the term is in flight, and does when none is', async () => {
    const { db, calls } = fakeDb([]);
    const l = new Leadership(db, 'h');
    await l.check(Date.now);
    let finish!: () => void;
    const job = l.during(() => new Promise<void>((resolve) => { finish = resolve; }));
    const term = l.termSignal!;
    await l.stepDown();
    expect(term.aborted).toBe(true);
    expect(calls.released).toBe(0);
    finish();
    await job;
    const { db: db2, calls: calls2 } = fakeDb([]);
    const idle = new Leadership(db2, 'h');
    await idle.check(Date.now);
    await idle.stepDown();
    expect(calls2.released).toBe(1);
  });

  it('refuses to take the lead when told why (another engine is recorded for its host)', async () => {
    const { db } = fakeDb([]);
    const l = new Leadership(db, 'h');
    l.refusal = 'host h is recorded with engine A';
    expect(await l.check(Date.now)).toBeUndefined();
    expect(l.isLeader).toBe(false);
  });
});

describe('each loop tick in its own lock scope', () => {
  it('two loops never share a scope, so one tenant\'s lost lock fails only its own loop', async () => {
    const scopes: Array<ReturnType<typeof currentLockScope>> = [];
    const controller = new AbortController();
    const loop = (name: string): AgentLoop => ({ name, intervalMs: 1_000, tick: async () => { scopes.push(currentLockScope()); } });
    const a = runLoop(loop('a'), { ctx: { clock: systemClock } as never, db: {} as never, hostId: 'h', isLeader: () => true, leadership: {} as never, log: () => {} }, controller.signal);
    const b = runLoop(loop('b'), { ctx: { clock: systemClock } as never, db: {} as never, hostId: 'h', isLeader: () => true, leadership: {} as never, log: () => {} }, controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await Promise.all([a.stopped, b.stopped]);
    expect(scopes).toHaveLength(2);
    expect(scopes[0]).toBeDefined();
    expect(scopes[1]).toBeDefined();
    expect(scopes[0]).not.toBe(scopes[1]);
  });
});
