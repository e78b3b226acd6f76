// The agent on real parts: its own compose project on the real engine, the CLI bundle in its image,
// the admin database (with the agent's own role), a real tenant backed up by a schedule. One shared
// setup: a tenant of plan standard, whose backup schedule is `every 1h` (so a run is due once, when
// the schedule is created, and again only when the test makes it due).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import getPort from 'get-port';
import pg from 'pg';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { createHarness, dockerObjectsWithPrefix, inspect, stopwatch, type Harness } from './harness.js';
import { retryUntilDeadline, done, notYet } from '../../src/common/retry.js';
import { AdminDb } from '../../src/admin-db/database.js';
import { ScheduleStore } from '../../src/schedules/store.js';
import { pitrLagLoop } from '../../src/agent/pitr-lag.js';
import type { AgentContext } from '../../src/agent/context.js';
import { raiseRepeating } from '../../src/alerts/repeat.js';
import type { Context } from '../../src/context.js';

let h: Harness;
const timings: Record<string, number> = {};
const timed = stopwatch(timings);
let agentProject: string;
let agentPort: number;
let pauseFile: string;

beforeAll(async () => {
  h = await createHarness('agent', {
    TENANTCTL_SUBNET_POOL: `10.${150 + Math.floor(Math.random() * 40)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4900-4929', TENANTCTL_DB_PORTS: '5900-5929', TENANTCTL_REDIS_PORTS: '6900-6929',
  });
  agentProject = `${h.prefix}-agent`;
  agentPort = await getPort();
  Object.assign(h.env, { TENANTCTL_AGENT_PROJECT: agentProject, TENANTCTL_AGENT_PORT: String(agentPort) });
  // A schedule is checked every second here (15 s by default); doctor stays at its default.
  writeFileSync(path.join(h.dir, 'tenantctl.config.yaml'), 'plans:\n  standard:\n    backupSchedule: every 1h\nagent:\n  pollSeconds: 1\nwatch:\n  intervalSeconds: 1\nalerts:\n  deliveryIntervalSeconds: 1\n');
  pauseFile = path.join(h.dir, 'pause', 'agent.pause');
  mkdirSync(path.dirname(pauseFile), { recursive: true });
  const r = await timed('provision', () => h.cli(['provision', 'acme', '--name', 'Acme', '--plan', 'standard', '--json']));
  expect(r.exitCode, r.why).toBe(0);
}, 240_000);

afterAll(async () => {
  if (h) {
    for (const project of [agentProject, `${agentProject}2`]) await h.cli(['agent', 'down', '--json'], { env: { TENANTCTL_AGENT_PROJECT: project } }).catch(() => {});
    await h.cleanup();
  }
  console.log(`agent e2e timings (ms): ${JSON.stringify(timings)}`);
}, 120_000);

/** `alerts add` refuses private targets unless told (SSRF); the receiver here is on loopback. */
const allowPrivate = ['--allow-private'];

const agentActor = (project: string) => `agent:${project}@${os.hostname()}`;

async function waitFor<T>(what: string, attempt: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  return retryUntilDeadline(async () => {
    const value = await attempt();
    return value === undefined ? notYet(what) : done(value);
  }, { what, deadlineMs, initialDelayMs: 250, maxDelayMs: 1_000, onDeadline: (why) => new Error(`timed out ${why}`) });
}

async function backupSchedule(): Promise<any> {
  const r = await h.cli(['schedules', 'list', '--json']);
  expect(r.exitCode, r.why).toBe(0);
  return r.json().schedules.find((s: any) => s.kind === 'backup' && s.target === 'standard');
}

const runsOf = (scheduleId: number) => h.adminQuery('SELECT * FROM admin_schedule_runs WHERE schedule_id = $1 ORDER BY id', [scheduleId]);
const backupsOfAcme = () => h.adminQuery("SELECT id, state, created_by, started_at FROM admin_backups WHERE customer_id = 'acme' ORDER BY started_at, id");

/** A GET with a chosen Host header (fetch may not set one): what a DNS-rebinding page would send. */
function getWithHost(port: number, urlPath: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)); }).on('error', reject);
  });
}

/** The host's runs a new leader would settle as interrupted (their claiming session gone), asked as the database's owner. */
async function settleableRuns(): Promise<number[]> {
  const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'admin-db.env'), 'utf8'))![1]!;
  const db = await AdminDb.open(`postgres://tenantctl:${encodeURIComponent(password)}@127.0.0.1:${h.env.TENANTCTL_ADMIN_DB_PORT}/tenantctl_admin`, 'test');
  try {
    const [host] = await h.adminQuery('SELECT host FROM admin_schedules WHERE id = $1', [scheduleIdForSettle]);
    return (await new ScheduleStore(db).interrupted(host.host, { pid: 0, started: 'none' })).map((r) => r.run.id);
  } finally {
    await db.close();
  }
}
let scheduleIdForSettle = 0;

async function get(port: number, urlPath: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}${urlPath}`);
  await response.arrayBuffer();
  return response.status;
}

describe.sequential('tenantctl agent', () => {
  let scheduleId: number;

  it('agent up killed -9, or interrupted, before its container starts: nothing runs, and agent up again starts it', async () => {
    const env = { TENANTCTL_PAUSE_AT: 'agent-up:configured', TENANTCTL_PAUSE_FILE: pauseFile };
    for (const signal of ['SIGKILL', 'SIGINT'] as const) {
      const child = execa('node', [path.join(import.meta.dirname, '..', '..', 'bin', 'tenantctl.js'), 'agent', 'up', '--json'], { cwd: h.dir, env: { ...h.env, ...env }, reject: false, stdin: 'ignore' });
      await waitFor('agent up to pause', async () => (existsSync(pauseFile) ? true : undefined), 120_000);
      child.kill(signal);
      const ended = await child;
      rmSync(pauseFile, { force: true });
      if (signal === 'SIGINT') expect(ended.exitCode, String(ended.stderr)).toBe(130);
      expect((await h.cli(['agent', 'status', '--json'])).json().state).toBe('absent');
    }
  }, 240_000);

  it('agent up: runs in its own compose project and leads its host; the due backup runs once and schedules list shows it', async () => {
    const up = await timed('agent up', () => h.cli(['agent', 'up', '--json']));
    expect(up.exitCode, up.why).toBe(0);
    const status = await h.cli(['agent', 'status', '--json']);
    expect(status.exitCode, status.why).toBe(0);
    const s = status.json();
    expect(s).toMatchObject({ state: 'running', project: agentProject, metricsUrl: `http://127.0.0.1:${agentPort}/metrics`, apiUrl: null });
    // Leadership is taken on the agent's first tick: up to a moment after it answers.
    await waitFor('the agent to lead', async () => ((await h.cli(['agent', 'status', '--json'])).json().leader === true ? true : undefined));
    const container = await inspect(agentProject);
    expect(container.Config.Labels['com.docker.compose.project']).toBe(agentProject);
    expect(container.Config.Image).toMatch(/^tenantctl\/agent:[0-9a-f]{16}$/);
    // No secret in its environment or command line: its database login is in its 0600 config file.
    expect(JSON.stringify([container.Config.Env, container.Config.Cmd])).not.toMatch(/postgres(ql)?:\/\/|PASSWORD|MASTER_KEY=/);
    expect(statSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'agent-db.env')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'agent', agentProject, 'config.yaml')).mode & 0o777).toBe(0o600);
    // The loopback server's route table: /healthz, /metrics (the Prometheus exposition), nothing else.
    expect(await get(agentPort, '/healthz')).toBe(200);
    expect(await get(agentPort, '/metrics')).toBe(200);
    expect(await get(agentPort, '/nothing-here')).toBe(404);
    // DNS rebinding: a page whose name resolves to 127.0.0.1 sends its own name as Host.
    expect(await getWithHost(agentPort, '/status', `evil.example:${agentPort}`)).toBe(421);
    expect(await getWithHost(agentPort, '/status', `localhost:${agentPort}`)).toBe(200);
    // Container ceilings from agent.memLimit and agent.cpus (512m, 1.0 by default).
    expect(container.HostConfig.Memory).toBe(512 * 1024 * 1024);
    expect(container.HostConfig.NanoCpus).toBe(1_000_000_000);

    const schedule = await timed('first scheduled backup', () => waitFor('the scheduled backup to finish', async () => {
      const found = await backupSchedule();
      return found?.lastOutcome ? found : undefined;
    }));
    expect(schedule, JSON.stringify(schedule)).toMatchObject({ spec: 'every 1h', everySeconds: 3600, lastOutcome: 'succeeded', lastError: null, running: false });
    expect(schedule.lastSummary).toBe('backed up 1 of 1 tenant');
    scheduleId = schedule.id;
    scheduleIdForSettle = schedule.id;
    // Next due an hour after it finished, not before.
    expect(Date.parse(schedule.nextRunAt) - Date.parse(schedule.lastFinishedAt)).toBeGreaterThanOrEqual(3_599_000);
    const text = await h.cli(['schedules', 'list']);
    expect(text.stdout).toMatch(/backup\s+standard\s+every 1h\s+\S+\s+\S+\s+succeeded\s+backed up 1 of 1 tenant$/m);
    // Several ticks later it has still run once: one run, one backup, made by the agent.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await runsOf(scheduleId)).toHaveLength(1);
    const backups = await backupsOfAcme();
    expect(backups.map((b) => [b.state, b.created_by])).toEqual([['succeeded', agentActor(agentProject)]]);
  }, 180_000);

  it('two agents on one host: one leads, only the leader runs a due job, and the other takes over when it is killed', async () => {
    const second = `${agentProject}2`;
    const secondPort = await getPort();
    const env = { TENANTCTL_AGENT_PROJECT: second, TENANTCTL_AGENT_PORT: String(secondPort) };
    const up = await timed('second agent up', () => h.cli(['agent', 'up', '--json'], { env }));
    expect(up.exitCode, up.why).toBe(0);
    // Give the follower several leadership ticks to (fail to) take the lead.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const [first, other] = await Promise.all([h.cli(['agent', 'status', '--json']), h.cli(['agent', 'status', '--json'], { env })]);
    expect(first.json()).toMatchObject({ state: 'running', leader: true });
    expect(other.json()).toMatchObject({ state: 'running', leader: false });

    await h.adminQuery("UPDATE admin_schedules SET next_run_at = now() WHERE id = $1", [scheduleId]);
    await timed('backup due again', () => waitFor('the second run to finish', async () => {
      const runs = await runsOf(scheduleId);
      return runs.length === 2 && runs[1].state !== 'running' ? runs : undefined;
    }));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const runs = await runsOf(scheduleId);
    expect(runs.map((r) => [r.state, r.actor])).toEqual([['succeeded', agentActor(agentProject)], ['succeeded', agentActor(agentProject)]]);
    expect((await backupsOfAcme()).map((b) => b.created_by)).toEqual([agentActor(agentProject), agentActor(agentProject)]);
    const followerLog = (await execa('docker', ['logs', second], { reject: false })).stderr;
    expect(followerLog).not.toMatch(/run \d+:/);

    // The leader killed -9: its session ends, and the follower takes the lead within a few of its ticks.
    await execa('docker', ['kill', '-s', 'KILL', agentProject]);
    await timed('failover', () => waitFor('the follower to lead', async () => ((await h.cli(['agent', 'status', '--json'], { env })).json().leader === true ? true : undefined), 30_000));
    const back = await h.cli(['agent', 'up', '--json']);
    expect(back.exitCode, back.why).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect((await h.cli(['agent', 'status', '--json'])).json()).toMatchObject({ state: 'running', leader: false });

    // agent down removes that project and nothing else: the other agent, the tenant and the admin database run on.
    const before = await dockerObjectsWithPrefix(h.prefix);
    const down = await h.cli(['agent', 'down', '--json'], { env });
    expect(down.exitCode, down.why).toBe(0);
    expect(down.json().removed).toEqual([second]);
    const after = await dockerObjectsWithPrefix(h.prefix);
    expect(after.containers.length).toBe(before.containers.length - 1);
    expect(after.networks).toEqual(before.networks);
    expect(after.volumes).toEqual(before.volumes);
    expect((await h.cli(['agent', 'status', '--json'], { env })).json().state).toBe('absent');
    await waitFor('the first agent to lead again', async () => ((await h.cli(['agent', 'status', '--json'])).json().leader === true ? true : undefined), 30_000);
    const tenant = await h.cli(['status', 'acme', '--json']);
    expect(tenant.exitCode, tenant.why).toBe(0);
  }, 180_000);

  it('a tenant with an operator\'s pending operation is skipped by the agent\'s job and named in the run\'s summary', async () => {
    const before = (await backupsOfAcme()).length;
    const [op] = await h.adminQuery("INSERT INTO admin_operations (customer_id, verb, host, step, actor, data) SELECT 'acme', 'restore', host, 'begun', 'test', '{}' FROM admin_customers WHERE id = 'acme' RETURNING id");
    try {
      const runsBefore = (await runsOf(scheduleId)).length;
      await h.adminQuery('UPDATE admin_schedules SET next_run_at = now() WHERE id = $1', [scheduleId]);
      const runs = await waitFor('the run to finish', async () => {
        const r = await runsOf(scheduleId);
        return r.length === runsBefore + 1 && r.at(-1).state !== 'running' ? r : undefined;
      });
      expect(runs.at(-1).detail.summary).toMatch(/backed up 0 of 1 tenant, 1 skipped \(acme skipped: its restore \(operation \d+\) is pending/);
      // The operator's operation is untouched (the agent's role neither settles nor undoes it), and nothing was backed up.
      expect((await h.adminQuery('SELECT state FROM admin_operations WHERE id = $1', [op.id]))[0].state).toBe('running');
      expect((await backupsOfAcme()).length).toBe(before);
    } finally {
      await h.adminQuery('DELETE FROM admin_operations WHERE id = $1', [op.id]);
    }
  }, 60_000);

  it('an agent whose host name is recorded with another engine refuses to lead, and /status says why', async () => {
    const [host] = await h.adminQuery("SELECT h.name, h.engine_id FROM admin_hosts h JOIN admin_customers c ON c.host = h.name WHERE c.id = 'acme'");
    await h.adminQuery('UPDATE admin_hosts SET engine_id = $2 WHERE name = $1', [host.name, 'not-this-engine']);
    try {
      await timed('agent restart (identity)', () => execa('docker', ['restart', agentProject]));
      const status = await waitFor('the agent to answer', async () => {
        const r = await fetch(`http://127.0.0.1:${agentPort}/status`).then((x) => x.json(), () => undefined);
        return r?.loops?.some((l: any) => l.name === 'leadership' && l.ticks > 1) ? r : undefined;
      });
      expect(status.leader).toBe(false);
      expect(status.notLeadingBecause).toMatch(/recorded with engine not-this-engine, but this agent's Docker is engine/);
    } finally {
      await h.adminQuery('UPDATE admin_hosts SET engine_id = $2 WHERE name = $1', [host.name, host.engine_id]);
    }
    await execa('docker', ['restart', agentProject]);
    await waitFor('the agent to lead again', async () => ((await h.cli(['agent', 'status', '--json'])).json().leader === true ? true : undefined), 30_000);
  }, 90_000);

  // At each step of a scheduled backup: its intent journaled (nothing made yet), and its row recorded as running.
  it.each([
    { step: 'scheduled-backup:begun', left: [], after: [] },
    { step: 'backup:running', left: ['running'], after: ['failed'] },
    // Killed between rename(.partial -> final) and its row's succeed: the folder verifies, so it is kept.
    { step: 'backup:renamed', left: ['running'], after: ['succeeded'] },
  ])('agent killed -9 at $step: after agent up the run is settled, never made twice, and due again at once', async ({ step, left, after }) => {
    const paused = await timed(`agent up paused at ${step}`, () => h.cli(['agent', 'up', '--json'], { env: { TENANTCTL_PAUSE_AT: step, TENANTCTL_PAUSE_FILE: pauseFile } }));
    expect(paused.exitCode, paused.why).toBe(0);
    await waitFor('the agent to lead', async () => ((await h.cli(['agent', 'status', '--json'])).json().leader === true ? true : undefined));
    const killedAt = new Date();
    const runsBefore = (await runsOf(scheduleId)).length;
    await h.adminQuery('UPDATE admin_schedules SET next_run_at = now() WHERE id = $1', [scheduleId]);
    await waitFor('the backup to pause', async () => (existsSync(pauseFile) ? true : undefined));
    expect(readFileSync(pauseFile, 'utf8')).toMatch(new RegExp(`^${step} \\d+`));
    // A live agent's run is never settled by another leader: its claiming session is still there.
    expect(await settleableRuns()).toEqual([]);
    await execa('docker', ['kill', '-s', 'KILL', agentProject]);
    await waitFor('the killed run to be settleable', async () => ((await settleableRuns()).length === 1 ? true : undefined), 15_000);
    rmSync(pauseFile, { force: true });

    // What the kill left: its scheduled-backup operation running, the run claimed, and at backup:running the backup's row and folder.
    const leftRows = (await backupsOfAcme()).filter((b) => b.started_at >= killedAt);
    expect(leftRows.map((b) => b.state)).toEqual(left);
    const [op] = await h.adminQuery("SELECT * FROM admin_operations WHERE verb = 'scheduled-backup' AND customer_id = 'acme' AND state = 'running'");
    expect(op).toBeDefined();
    expect((await h.adminQuery('SELECT running_run FROM admin_schedules WHERE id = $1', [scheduleId]))[0].running_run).not.toBeNull();
    if (leftRows[0]) expect(existsSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'backups', 'acme', `${leftRows[0].id}${step === 'backup:renamed' ? '' : '.partial'}`))).toBe(true);

    const up = await timed(`agent up after the kill at ${step}`, () => h.cli(['agent', 'up', '--json']));
    expect(up.exitCode, up.why).toBe(0);
    // The killed run is the one claimed after runsBefore; it is due again at once, so the schedule's
    // own last outcome soon is the next run's: the killed run is judged by its own row.
    const killedRun = (await runsOf(scheduleId))[runsBefore];
    const settled = await waitFor('the interrupted run to be settled', async () => {
      const [r] = await h.adminQuery('SELECT * FROM admin_schedule_runs WHERE id = $1', [killedRun.id]);
      return r.state !== 'running' ? r : undefined;
    });
    expect(settled.state).toBe('failed');
    expect(settled.error).toMatch(after[0] === 'succeeded'
      ? /^interrupted: the agent running it stopped .*acme's backup was recorded before it stopped \(kept\)/
      : /^interrupted: the agent running it stopped .*acme's backup is recorded as failed/);
    expect((await h.adminQuery('SELECT state FROM admin_operations WHERE id = $1', [op.id]))[0].state).toBe(after[0] === 'succeeded' ? 'completed' : 'undone');
    // The interrupted run is due again at once (a missed run runs once): the next run backs acme up;
    // the settlement itself made nothing.
    const runs = await waitFor('the next run to finish', async () => {
      const r = await runsOf(scheduleId);
      return r.length === runsBefore + 2 && r.at(-1).state !== 'running' ? r : undefined;
    });
    expect(runs.map((r) => r.state).slice(-2)).toEqual(['failed', 'succeeded']);
    expect((await backupsOfAcme()).filter((b) => b.started_at >= killedAt).map((b) => b.state)).toEqual([...after, 'succeeded']);
    // Every backup folder of acme is a recorded backup: none orphaned, no .partial left.
    expect(readdirSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'backups', 'acme')).filter((f) => f.endsWith('.partial'))).toEqual([]);
    const recorded = new Set((await backupsOfAcme()).filter((b) => b.state === 'succeeded').map((b) => b.id));
    expect(readdirSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'backups', 'acme')).filter((f) => !recorded.has(f))).toEqual([]);
  }, 180_000);

  it('tenantctl backup killed -9, or interrupted, at backup:running: the next backup finds its row failed and its folder gone', async () => {
    const before = (await backupsOfAcme()).length;
    const env = { TENANTCTL_PAUSE_AT: 'backup:running', TENANTCTL_PAUSE_FILE: pauseFile };
    for (const signal of ['SIGKILL', 'SIGINT'] as const) {
      const child = execa('node', [path.join(import.meta.dirname, '..', '..', 'bin', 'tenantctl.js'), 'backup', 'acme', '--json'], { cwd: h.dir, env: { ...h.env, ...env }, reject: false, stdin: 'ignore' });
      await waitFor('the backup to pause', async () => (existsSync(pauseFile) ? true : undefined));
      child.kill(signal);
      const ended = await child;
      rmSync(pauseFile, { force: true });
      if (signal === 'SIGINT') {
        expect(ended.exitCode, String(ended.stderr)).toBe(130);
        // Interrupted: it recorded its own failure on the way out.
        expect((await backupsOfAcme()).at(-1).state).toBe('failed');
      }
    }
    const again = await timed('backup after kills', () => h.cli(['backup', 'acme', '--json']));
    expect(again.exitCode, again.why).toBe(0);
    const rows = (await backupsOfAcme()).slice(before);
    expect(rows.map((b) => b.state)).toEqual(['failed', 'failed', 'succeeded']);
    expect(readdirSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'backups', 'acme')).filter((f) => f.endsWith('.partial'))).toEqual([]);
  }, 120_000);

  it('agent down during a scheduled backup (SIGTERM): the backup is cancelled and recorded failed at once', async () => {
    const paused = await h.cli(['agent', 'up', '--json'], { env: { TENANTCTL_PAUSE_AT: 'backup:running', TENANTCTL_PAUSE_FILE: pauseFile } });
    expect(paused.exitCode, paused.why).toBe(0);
    await waitFor('the agent to lead', async () => ((await h.cli(['agent', 'status', '--json'])).json().leader === true ? true : undefined));
    const stoppedAt = new Date();
    await h.adminQuery('UPDATE admin_schedules SET next_run_at = now() WHERE id = $1', [scheduleId]);
    await waitFor('the backup to pause', async () => (existsSync(pauseFile) ? true : undefined));
    const down = await timed('agent down mid-backup', () => h.cli(['agent', 'down', '--json']));
    expect(down.exitCode, down.why).toBe(0);
    rmSync(pauseFile, { force: true });
    const since = (await backupsOfAcme()).filter((b) => b.started_at >= stoppedAt);
    expect(since.map((b) => b.state)).toEqual(['failed']);
    const [schedule] = await h.adminQuery('SELECT * FROM admin_schedules WHERE id = $1', [scheduleId]);
    expect(schedule.running_run).toBeNull();
    expect(schedule.last_outcome).toBe('failed');
    // Interrupted, not finished: due again at once, not an interval later.
    expect(Date.parse(schedule.next_run_at) - Date.now()).toBeLessThan(5_000);
    // Its secrets went with it: its configuration (database login) and any private master key copy.
    expect(existsSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'agent', agentProject, 'config.yaml'))).toBe(false);
    expect(existsSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'agent', agentProject, 'master.key'))).toBe(false);
    expect((await h.adminQuery("SELECT count(*)::int AS n FROM admin_operations WHERE verb = 'scheduled-backup' AND state = 'running'"))[0].n).toBe(0);
    expect((await h.cli(['agent', 'status', '--json'])).json().state).toBe('absent');
  }, 180_000);

  it('agent up removing a schedule while its run is in flight: the schedule is disabled, never claimed again, and deleted when the run ends', async () => {
    const configFile = path.join(h.dir, 'tenantctl.config.yaml');
    const config = readFileSync(configFile, 'utf8');
    const paused = await h.cli(['agent', 'up', '--json'], { env: { TENANTCTL_PAUSE_AT: 'backup:running', TENANTCTL_PAUSE_FILE: pauseFile } });
    expect(paused.exitCode, paused.why).toBe(0);
    await waitFor('the agent to lead', async () => ((await h.cli(['agent', 'status', '--json'])).json().leader === true ? true : undefined));
    await h.adminQuery('UPDATE admin_schedules SET next_run_at = now() WHERE id = $1', [scheduleId]);
    await waitFor('the backup to pause', async () => (existsSync(pauseFile) ? true : undefined));
    try {
      writeFileSync(configFile, config.replace(/plans:\n  standard:\n    backupSchedule: every 1h\n/, ''));
      const up = await timed('agent up removing a running schedule', () => h.cli(['agent', 'up', '--json']));
      expect(up.exitCode, up.why).toBe(0);
      rmSync(pauseFile, { force: true });
      // The old agent was stopped (SIGTERM) by the recreate: its run ended, and the disabled schedule went with it.
      await waitFor('the schedule to be deleted', async () => ((await h.adminQuery('SELECT id FROM admin_schedules WHERE id = $1', [scheduleId])).length === 0 ? true : undefined), 45_000);
      expect((await h.cli(['schedules', 'list', '--json'])).json().schedules.filter((s: any) => s.kind === 'backup')).toEqual([]);
    } finally {
      writeFileSync(configFile, config);
      rmSync(pauseFile, { force: true });
      await h.cli(['agent', 'down', '--json']);
    }
  }, 180_000);

  it('the agent\'s role holds only what it uses: no superuser, no CREATE, no DELETE, no usage or invoices, no forged or deleted alert delivery', async () => {
    const password = /TENANTCTL_AGENT_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'agent-db.env'), 'utf8'))![1];
    const client = new pg.Client({ host: '127.0.0.1', port: Number(h.env.TENANTCTL_ADMIN_DB_PORT), user: 'tenantctl_agent', password, database: 'tenantctl_admin' });
    await client.connect();
    try {
      const refused = async (sql: string) => {
        const error = await client.query(sql).then(() => undefined, (e: Error) => e);
        expect(error?.message, sql).toMatch(/permission denied|must be owner|must be superuser/);
      };
      const [role] = (await client.query("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user")).rows;
      expect(role).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolbypassrls: false });
      await refused('CREATE TABLE agent_was_here (a int)');
      await refused('CREATE FUNCTION agent_fn() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$');
      await refused('DELETE FROM admin_backups');
      await refused('DELETE FROM admin_schedules');
      await refused("UPDATE admin_customers SET status = 'failed'");
      // Usage counts are read (the requests metric), never written.
      await refused("UPDATE admin_api_usage SET request_count = 0");
      await refused('SELECT * FROM admin_subscription_invoices');
      await refused('SELECT * FROM admin_api_keys');
      await refused("UPDATE admin_schedules SET spec = 'every 1m'");
      await refused("COPY (SELECT 1) TO PROGRAM 'true'");
      // A delivery's repeat key (migration 032) is written with its row, never changed after: the
      // agent cannot make a sent alert look unsent (or older) to the next repeat decision.
      await refused("UPDATE admin_alert_deliveries SET repeat_key = NULL");
      await refused("UPDATE admin_alert_deliveries SET created_at = now() - interval '2 days'");
      // Nor insert one already sent, or dated ahead (which would silence its key on every host),
      // nor delete one (a pending alert): it inserts only the columns it queues with, and done rows
      // past the retention go through the owner's function (032).
      await refused("INSERT INTO admin_alert_deliveries (endpoint_id, event, payload, repeat_key, state) VALUES ('x', 'backup.missed', '{}', 'backup-missed:acme', 'delivered')");
      await refused("INSERT INTO admin_alert_deliveries (endpoint_id, event, payload, repeat_key, created_at) VALUES ('x', 'backup.missed', '{}', 'backup-missed:acme', 'infinity')");
      await refused('DELETE FROM admin_alert_deliveries');
      expect((await client.query('SELECT admin_prune_alert_deliveries(30, 100) AS n')).rows[0].n).toBe(0);
      // What it does use, it can.
      expect((await client.query('SELECT count(*)::int AS n FROM admin_schedules')).rows[0].n).toBeGreaterThan(0);
      expect((await client.query("SELECT count(*)::int AS n FROM admin_customers WHERE id = 'acme'")).rows[0].n).toBe(1);
    } finally {
      await client.end();
    }
  }, 60_000);

  it('pitr.lagging and pitr.caught-up under the agent\'s own role: a shipper failing past the bound (rows the test writes as the owner, a stalled shipper simulated) is lagging once, its success caught up; repeats count a failed delivery and ignore one dated ahead', async () => {
    // The pitr-lag loop's check as the agent runs it, on the real admin database as tenantctl_agent,
    // acme's plan taken as a pitr plan in the loop's context only (the running agent's config has no
    // pitr plan, so neither its shipper nor its own lag loop touches acme's row). Bound 2 s, shipping
    // interval 0.5 s: the judgement's rules at the scale of seconds.
    const password = /TENANTCTL_AGENT_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'agent-db.env'), 'utf8'))![1]!;
    const db = await AdminDb.open(`postgres://tenantctl_agent:${encodeURIComponent(password)}@127.0.0.1:${h.env.TENANTCTL_ADMIN_DB_PORT}/tenantctl_admin`, 'test-agent');
    const added = await h.cli(['alerts', 'add', `http://127.0.0.1:${await getPort()}/lag`, '--events', 'pitr.lagging,pitr.caught-up', '--secret-file', path.join(h.dir, 'lag.secret'), ...allowPrivate, '--json']);
    expect(added.exitCode, added.why).toBe(0);
    const endpoint = added.json().id as string;
    const [{ host }] = await h.adminQuery("SELECT host FROM admin_customers WHERE id = 'acme'");
    const logs: string[] = [];
    const agentContext = (loopConfig: unknown) => ({
      ctx: { config: loopConfig, clock: { now: () => Date.now() }, signal: new AbortController().signal },
      db, hostId: host, isLeader: () => true,
      leadership: { session: undefined, termSignal: new AbortController().signal, during: <T>(work: () => Promise<T>) => work() },
      log: (line: string) => logs.push(line),
    }) as unknown as AgentContext;
    const agent = agentContext({ plans: { standard: { pitr: true } } });
    const loop = pitrLagLoop(2, 500, 500);
    const never = new AbortController().signal;
    const events = () => h.adminQuery("SELECT kind, detail FROM admin_tenant_events WHERE customer_id = 'acme' AND kind LIKE 'pitr.%' ORDER BY id");
    const deliveries = () => h.adminQuery('SELECT event FROM admin_alert_deliveries WHERE endpoint_id = $1 ORDER BY id', [endpoint]);
    const fail = (error: string) => h.adminQuery(
      `INSERT INTO admin_wal_shipping (customer_id, newest_archived_at, waiting, last_error, checked_at) VALUES ('acme', now() - interval '1 day', 0, $1, now())
       ON CONFLICT (customer_id) DO UPDATE SET last_error = EXCLUDED.last_error, checked_at = now()`,
      [error],
    );
    try {
      // Idle (its newest segment a day old) and failing just now: not behind yet (the newest
      // segment's age said behind at once before; it is how long shipping fails that counts).
      await fail('restic: simulated failure 1');
      const [first] = await h.adminQuery("SELECT failing_since FROM admin_wal_shipping WHERE customer_id = 'acme'");
      expect(first.failing_since).toBeInstanceOf(Date);
      await loop.tick(agent, never);
      expect(await events()).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 3_200));
      // Failing on: its first failure's time is kept (033's trigger), now past the bound; behind on
      // one record is not yet lagging, on the next one it is.
      await fail('restic: simulated failure 2');
      expect((await h.adminQuery("SELECT failing_since FROM admin_wal_shipping WHERE customer_id = 'acme'"))[0].failing_since).toEqual(first.failing_since);
      await loop.tick(agent, never);
      expect(await events()).toEqual([]);
      await fail('restic: simulated failure 3');
      await loop.tick(agent, never);
      await loop.tick(agent, never);
      // The host's other agent (or a restarted one) raises it no second time.
      await pitrLagLoop(2, 500, 500).tick(agent, never);
      const lagging = await events();
      expect(lagging.map((e) => e.kind)).toEqual(['pitr.lagging']);
      expect(lagging[0].detail.reason).toMatch(/^shipping has failed for \d+ s \(restic: simulated failure 3\)/);
      expect((await deliveries()).map((d) => d.event)).toEqual(['pitr.lagging']);
      // A success clears the failure (and its time); the next check records the catch-up, once.
      await h.adminQuery("UPDATE admin_wal_shipping SET last_error = NULL, checked_at = now() WHERE customer_id = 'acme'");
      expect((await h.adminQuery("SELECT failing_since FROM admin_wal_shipping WHERE customer_id = 'acme'"))[0].failing_since).toBeNull();
      await loop.tick(agent, never);
      await loop.tick(agent, never);
      expect((await events()).map((e) => e.kind)).toEqual(['pitr.lagging', 'pitr.caught-up']);
      expect((await deliveries()).map((d) => d.event)).toEqual(['pitr.lagging', 'pitr.caught-up']);
      expect(logs).toEqual([expect.stringMatching(/^pitr-lag: acme lagging: shipping has failed/), 'pitr-lag: acme caught-up']);

      // Repeats under the same role (alerts/repeat.ts): a delivery that failed for good within the
      // day counts as sent (no new copy each pass); a row dated ahead (an owner's, or one from
      // before 032) is no delivery, so it silences nothing.
      const repeatCtx = { adminDb: async () => db, clock: { now: () => Date.now() } } as unknown as Context;
      const event = { kind: 'pitr.lagging' as const, tenant: 'acme', host, summary: 'repeat test' };
      await h.adminQuery(
        `INSERT INTO admin_alert_deliveries (endpoint_id, event, payload, state, next_attempt_at, repeat_key, created_at)
         VALUES ($1, 'pitr.lagging', '{}', 'failed', NULL, 'test:failed', now() - interval '2 hours'), ($1, 'pitr.lagging', '{}', 'delivered', NULL, 'test:ahead', 'infinity')`,
        [endpoint],
      );
      expect(await raiseRepeating(repeatCtx, 'test:failed', event, 24 * 3_600_000)).toBe(0);
      expect(await raiseRepeating(repeatCtx, 'test:ahead', event, 24 * 3_600_000)).toBe(1);
      expect(await raiseRepeating(repeatCtx, 'test:ahead', event, 24 * 3_600_000)).toBe(0);
    } finally {
      await db.close();
      await h.adminQuery("DELETE FROM admin_tenant_events WHERE customer_id = 'acme' AND kind LIKE 'pitr.%'");
      await h.adminQuery("DELETE FROM admin_wal_shipping WHERE customer_id = 'acme'");
      await h.adminQuery('DELETE FROM admin_alert_endpoints WHERE id = $1', [endpoint]);
    }
  }, 60_000);

  it('the agent watches its host, sends signed alerts and serves /metrics: a killed database is tenant.down, started again tenant.recovered; backups older than two intervals (counted from the schedule\'s creation) are backup.missed, sent once across restarts', async () => {
    const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
    const receiver = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => { body += chunk; });
      request.on('end', () => {
        received.push({ headers: request.headers, body });
        response.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      // The agent is on the host's network: the receiver on this host's loopback is what it reaches.
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const secretFile = path.join(h.dir, 'agent-hook.secret');
      const added = await h.cli(['alerts', 'add', url, '--events', 'tenant.down,tenant.recovered,backup.missed', '--secret-file', secretFile, ...allowPrivate, '--json']);
      expect(added.exitCode, added.why).toBe(0);
      const secret = readFileSync(secretFile, 'utf8').trim();
      const up = await h.cli(['agent', 'up', '--json']);
      expect(up.exitCode, up.why).toBe(0);
      await waitFor('the agent to lead', async () => ((await h.cli(['agent', 'status', '--json'])).json().leader === true ? true : undefined));
      const status = (await h.cli(['agent', 'status', '--json'])).json();
      expect(status.loops.map((l: any) => l.name)).toEqual(expect.arrayContaining(['schedules', 'watch', 'alert-delivery', 'event-retention', 'policies']));
      // /metrics at the URL agent status names, once the watch has judged acme ready.
      const metrics = await waitFor('acme ready in /metrics', async () => {
        const text = await (await fetch(status.metricsUrl)).text();
        return /^tenantctl_tenant_ready\{tenant="acme"\} 1$/m.test(text) ? text : undefined;
      });
      // Registry-wide families carry the serving host's label (README: aggregate with max).
      expect(metrics).toMatch(/^tenantctl_tenants\{host="[^"]+",status="active"\} 1$/m);

      const [db] = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${h.prefix}-acme`, '--filter', 'label=com.docker.compose.service=db'])).stdout.split('\n');
      expect(db).toBeTruthy();
      await execa('docker', ['kill', db!]);
      const event = (kind: string) => received.map((r) => ({ ...r, json: JSON.parse(r.body) })).find((r) => r.json.event === kind && r.json.tenant === 'acme');
      const down = await timed('tenant.down by the agent', () => waitFor('a tenant.down webhook', async () => event('tenant.down'), 90_000));
      // Signed with the endpoint's secret over "<timestamp>.<body>".
      const timestamp = String(down.headers['x-tenantctl-timestamp']);
      const expected = createHmac('sha256', secret).update(`${timestamp}.${down.body}`).digest('hex');
      expect(down.headers['x-tenantctl-signature']).toBe(`sha256=${expected}`);
      await execa('docker', ['start', db!]);
      await timed('tenant.recovered by the agent', () => waitFor('a tenant.recovered webhook', async () => event('tenant.recovered'), 120_000));
      // acme (plan standard, backed up every 1h) as if its last good backup were 3 hours old: once
      // the schedule's run at agent up (if due) has ended, backdate, and restart the agent so that
      // its policies pass again (the first pass comes within seconds of leading; the schedule's next
      // run is an hour after the last, so no fresh backup hides the gap).
      await waitFor('no scheduled run in flight', async () => ((await h.adminQuery('SELECT count(*)::int AS n FROM admin_schedules WHERE running_run IS NOT NULL'))[0].n === 0 ? true : undefined));
      await h.adminQuery("UPDATE admin_customers SET provisioned_at = now() - interval '3 hours' WHERE id = 'acme'");
      await h.adminQuery("UPDATE admin_backups SET finished_at = now() - interval '3 hours', started_at = now() - interval '3 hours' WHERE customer_id = 'acme'");
      const missedRows = async () => (await h.adminQuery("SELECT count(*)::int AS n FROM admin_alert_deliveries WHERE event = 'backup.missed'"))[0].n as number;
      // The agent restarted, and its policies' first pass after it ended (each pass logs one line).
      const passesLogged = async () => {
        const logs = await execa('docker', ['logs', agentProject], { reject: false });
        return `${logs.stdout}\n${logs.stderr}`.match(/policies: pass ended: .*/g) ?? [];
      };
      const restartedAndPassed = async (what: string) => {
        const before = (await passesLogged()).length;
        await execa('docker', ['restart', agentProject]);
        return timed(what, () => waitFor(`the policies pass after ${what}`, async () => {
          const passes = await passesLogged();
          return passes.length > before ? passes.at(-1)! : undefined;
        }, 90_000));
      };
      // Review M4: the plan's backup schedule was added by this test's agent up (minutes ago), so
      // acme has missed nothing yet, however old its last backup and itself are.
      await restartedAndPassed('restart (schedule new)');
      expect(await missedRows()).toBe(0);
      // Once the schedule is 3 hours old too, the next pass finds acme's backups missed, once.
      await h.adminQuery("UPDATE admin_schedules SET created_at = now() - interval '3 hours' WHERE kind = 'backup' AND target = 'standard'");
      await execa('docker', ['restart', agentProject]);
      const missed = await waitFor('a backup.missed webhook', async () => event('backup.missed'), 90_000).catch(async (error: Error) => {
        // The policies loop's own account (its last error) says why, when it did not come.
        const loops = (await h.cli(['agent', 'status', '--json'])).json().loops;
        const logs = (await execa('docker', ['logs', '--tail', '40', agentProject], { reject: false })).stdout + (await execa('docker', ['logs', '--tail', '40', agentProject], { reject: false })).stderr;
        throw new Error(`${error.message}; policies loop: ${JSON.stringify(loops.find((l: any) => l.name === 'policies'))}; agent log: ${logs}`);
      });
      // Whether earlier tests left backups of acme (now 3 hours old) or none, the alert names it.
      expect(missed.json.summary).toMatch(/^acme(?:'s last succeeded backup is from \S+| has no succeeded backup), and plan standard backs up every 1h$/);
      expect(received.filter((r) => JSON.parse(r.body).event === 'backup.missed')).toHaveLength(1);
      // Review M3: restarted again, the agent's first pass finds it still missed, and reads from the
      // deliveries on record that this endpoint got it within the day: nothing is queued again.
      expect(await restartedAndPassed('restart (already sent)')).toMatch(/^policies: pass ended: [1-9]\d* finding\(s\), 0 delivery\(ies\) queued/);
      expect(await missedRows()).toBe(1);
      // Only the agent sent them: one down, one recovered.
      expect(received.filter((r) => JSON.parse(r.body).event === 'tenant.down')).toHaveLength(1);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
      const down = await h.cli(['agent', 'down', '--json']);
      expect(down.exitCode, down.why).toBe(0);
    }
  }, 300_000);
});
