// The agent's operations on real parts (issue 22's leftovers): two agents of one host in their own
// compose projects, the admin database with the agent's own role, one real tenant. In order:
//   - the leader's admin database session terminated (pg_terminate_backend) while its scheduled
//     backup runs: the other agent takes the lead, the run is settled once and the job is not doubled;
//   - a host whose agents stopped beating is host.agent-silent (event, alert row), in agent status,
//     doctor and /metrics;
//   - the suspension policy deprovisions a due tenant with its data kept, as the agent; an agent
//     killed -9 or interrupted (SIGINT) at each of its steps is resumed by its next pass, and the
//     other agent's pass finishes the last one;
//     the agent's role may not change any other tenant's status or allocations, nor begin before the
//     days the operator's `agent up` recorded for the host (migration 029), nor at all with the policy off;
//   - a failed scheduled admin backup and a missed one are alerts (missed counted from the schedule's
//     creation; not sent again by a restarted agent); /metrics has the admin backup's age; a scheduled
//     doctor run's new findings are one doctor.findings alert.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import getPort from 'get-port';
import pg from 'pg';
import { createHarness, stopwatch, type Harness } from './harness.js';
import { retryUntilDeadline, done, notYet } from '../../src/common/retry.js';

let h: Harness;
const timings: Record<string, number> = {};
const timed = stopwatch(timings);
let pauseFile: string;
let first: { project: string; port: number; env: Record<string, string> };
let second: { project: string; port: number; env: Record<string, string> };

beforeAll(async () => {
  h = await createHarness('agentops', {
    TENANTCTL_SUBNET_POOL: `10.${110 + Math.floor(Math.random() * 30)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4970-4989', TENANTCTL_DB_PORTS: '5970-5989', TENANTCTL_REDIS_PORTS: '6970-6989',
  });
  pauseFile = path.join(h.dir, 'pause', 'agent-ops.pause');
  mkdirSync(path.dirname(pauseFile), { recursive: true });
  const agentEnv = async (project: string) => {
    const port = await getPort();
    return { project, port, env: { TENANTCTL_AGENT_PROJECT: project, TENANTCTL_AGENT_PORT: String(port) } };
  };
  first = await agentEnv(`${h.prefix}-agent`);
  second = await agentEnv(`${h.prefix}-agent2`);
  // Schedules polled every second, heartbeats every second and a host silent after 10 s; the watch at
  // its default. The policy deprovisions after 2 days suspended (the test moves the clock of the row).
  writeFileSync(path.join(h.dir, 'tenantctl.config.yaml'), [
    'plans:', '  standard:', '    backupSchedule: every 1h',
    'agent:', '  pollSeconds: 1', '  heartbeatSeconds: 1', '  silentAfterSeconds: 10',
    'alerts:', '  deliveryIntervalSeconds: 1',
    'suspension:', '  deprovisionAfterDays: 2', '',
  ].join('\n'));
  const r = await timed('provision', () => h.cli(['provision', 'acme', '--name', 'Acme', '--plan', 'standard', '--json']));
  expect(r.exitCode, r.why).toBe(0);
  // Every alert is queued for this endpoint (nothing listens there: the rows are what is checked).
  const added = await h.cli(['alerts', 'add', `http://127.0.0.1:${await getPort()}/hook`, '--allow-private', '--secret-file', path.join(h.dir, 'hook.secret'), '--json']);
  expect(added.exitCode, added.why).toBe(0);
}, 240_000);

afterAll(async () => {
  if (h) {
    for (const agent of [first, second]) if (agent) await h.cli(['agent', 'down', '--json'], { env: agent.env }).catch(() => {});
    await h.cleanup();
  }
  console.log(`agent-ops e2e timings (ms): ${JSON.stringify(timings)}`);
}, 120_000);

async function waitFor<T>(what: string, attempt: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  return retryUntilDeadline(async () => {
    const value = await attempt();
    return value === undefined ? notYet(what) : done(value);
  }, { what, deadlineMs, initialDelayMs: 250, maxDelayMs: 1_000, onDeadline: (why) => new Error(`timed out ${why}`) });
}

const statusOf = async (agent: typeof first) => (await h.cli(['agent', 'status', '--json'], { env: agent.env })).json();
const leads = (agent: typeof first) => waitFor(`${agent.project} to lead`, async () => ((await statusOf(agent)).leader === true ? true : undefined), 60_000);
const actorOf = (agent: typeof first) => `agent:${agent.project}@`;

/** The agent's own login, as its container has it. */
async function asAgent<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const password = /TENANTCTL_AGENT_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'agent-db.env'), 'utf8'))![1];
  const client = new pg.Client({ host: '127.0.0.1', port: Number(h.env.TENANTCTL_ADMIN_DB_PORT), user: 'tenantctl_agent', password, database: 'tenantctl_admin' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe.sequential('agent operations', () => {
  it('the leader\'s admin database session terminated during its scheduled backup: the other agent leads, the run is settled once, the job is not doubled', async () => {
    // The first agent stops its backups at backup:running (and its policy runs at policy-deprovision:marked
    // and deprovision:removing, below).
    const pausing = { TENANTCTL_PAUSE_AT: 'backup:running,policy-deprovision:marked,deprovision:removing,deprovision:removed', TENANTCTL_PAUSE_FILE: pauseFile };
    const up = await timed('agent up (first)', () => h.cli(['agent', 'up', '--json'], { env: { ...first.env, ...pausing } }));
    expect(up.exitCode, up.why).toBe(0);
    // It records the host's suspension policy for the database's guard (migration 029); the second agent up finds it recorded.
    expect(up.json().suspensionPolicy).toEqual({ deprovisionAfterDays: 2, changed: true });
    await leads(first);
    // The plan's schedule is due when agent up creates it: the leader claims it and stops mid-backup.
    await waitFor('the first agent\'s backup to pause', async () => (existsSync(pauseFile) ? true : undefined));
    expect(readFileSync(pauseFile, 'utf8')).toMatch(/^backup:running \d+/);
    const up2 = await timed('agent up (second)', () => h.cli(['agent', 'up', '--json'], { env: second.env }));
    expect(up2.exitCode, up2.why).toBe(0);
    expect(up2.json().suspensionPolicy).toEqual({ deprovisionAfterDays: 2, changed: false });
    expect((await statusOf(second)).leader).toBe(false);

    const [schedule] = await h.adminQuery("SELECT id FROM admin_schedules WHERE kind = 'backup' AND target = 'standard'");
    const [claimed] = await h.adminQuery("SELECT id, actor, leader_pid FROM admin_schedule_runs WHERE schedule_id = $1 AND state = 'running'", [schedule.id]);
    expect(claimed.actor).toMatch(new RegExp(`^${actorOf(first)}`));
    // The leader lock's session, and only it: the agent's other connections (its job's) live on.
    const holders = await h.adminQuery("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 4 AND objsubid = 2 AND granted");
    expect(holders.map((r) => r.pid)).toEqual([claimed.leader_pid]);
    const terminatedAt = new Date();
    const [terminated] = await h.adminQuery('SELECT pg_terminate_backend($1) AS ok', [claimed.leader_pid]);
    expect(terminated.ok).toBe(true);

    await timed('takeover', () => leads(second));
    // The old leader noticed, and its job was aborted (its pause ended by the term's signal, not by us).
    await waitFor('the first agent to step down', async () => ((await statusOf(first)).leader === false ? true : undefined), 30_000);
    const firstLog = (await execa('docker', ['logs', first.project], { reject: false })).stderr;
    expect(firstLog).toMatch(/no longer the leader of host .* its jobs in flight are aborted/);
    rmSync(pauseFile, { force: true });

    // The interrupted run: settled as failed once (by the new leader, or by its own agent's fence), never run twice at once.
    const settled = await waitFor('the interrupted run to be settled', async () => {
      const [r] = await h.adminQuery('SELECT * FROM admin_schedule_runs WHERE id = $1', [claimed.id]);
      return r.state !== 'running' ? r : undefined;
    }, 60_000);
    expect(settled.state).toBe('failed');
    // Its backup is failed, not left running, and its journal entry is settled.
    const interrupted = await waitFor('the interrupted backup to be settled', async () => {
      const rows = await h.adminQuery("SELECT state, created_by FROM admin_backups WHERE customer_id = 'acme' AND started_at < $1 ORDER BY started_at", [terminatedAt]);
      return rows.every((b) => b.state !== 'running') ? rows : undefined;
    });
    expect(interrupted.map((b) => b.state)).toEqual(['failed']);
    // The next run (due at once after an interrupted one, or made due here if the tenant was still
    // held when it came) is the new leader's, and backs acme up once.
    const afterRuns = async () => h.adminQuery('SELECT id, state, actor FROM admin_schedule_runs WHERE schedule_id = $1 AND id > $2 ORDER BY id', [schedule.id, claimed.id]);
    await waitFor('a run of the new leader to back acme up', async () => {
      const ok = await h.adminQuery("SELECT id FROM admin_backups WHERE customer_id = 'acme' AND state = 'succeeded' AND started_at >= $1", [terminatedAt]);
      if (ok.length > 0) return true;
      const runs = await afterRuns();
      if (runs.length > 0 && runs.every((r) => r.state !== 'running')) await h.adminQuery('UPDATE admin_schedules SET next_run_at = now() WHERE id = $1 AND running_run IS NULL', [schedule.id]);
      return undefined;
    }, 90_000);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const backups = await h.adminQuery("SELECT state, created_by FROM admin_backups WHERE customer_id = 'acme' AND started_at >= $1 ORDER BY started_at", [terminatedAt]);
    expect(backups.filter((b) => b.state === 'succeeded')).toHaveLength(1);
    expect(backups.find((b) => b.state === 'succeeded').created_by).toMatch(new RegExp(`^${actorOf(second)}`));
    expect(backups.filter((b) => b.state === 'running')).toEqual([]);
    // The interrupted backup's journal entry is settled (by its own agent's abort, or by the next holder of acme's lock).
    expect(await h.adminQuery("SELECT id FROM admin_operations WHERE customer_id = 'acme' AND state = 'running'")).toEqual([]);
    const runs = await afterRuns();
    expect(runs.every((r) => r.actor.startsWith(actorOf(second)))).toBe(true);
    // Never two runs of the schedule at once: every run's span is disjoint from the others'.
    const spans = await h.adminQuery('SELECT started_at, finished_at FROM admin_schedule_runs WHERE schedule_id = $1 ORDER BY started_at', [schedule.id]);
    for (let i = 1; i < spans.length; i++) expect(spans[i].started_at.getTime()).toBeGreaterThanOrEqual(spans[i - 1].finished_at.getTime() - 1000);
  }, 240_000);

  it('a host whose agents stopped beating is host.agent-silent, raised once, and shown by agent status, doctor and /metrics', async () => {
    // Another host's agent beat an hour ago and then died (a row as its agent left it).
    await h.adminQuery("INSERT INTO admin_agent_heartbeats (host, instance, beat_at, started_at, leader) VALUES ('ghost', 'agent:gone@ghost pid 1', now() - interval '1 hour', now() - interval '2 hours', true)");
    const event = await waitFor('host.agent-silent', async () => (await h.adminQuery("SELECT * FROM admin_tenant_events WHERE kind = 'host.agent-silent' AND host = 'ghost'"))[0], 30_000);
    expect(event.detail).toMatchObject({ lastInstance: 'agent:gone@ghost pid 1', silentAfterSeconds: 10 });
    // Two live agents look every second; it is raised once.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await h.adminQuery("SELECT id FROM admin_tenant_events WHERE kind = 'host.agent-silent' AND host = 'ghost'")).toHaveLength(1);
    expect(await h.adminQuery("SELECT id FROM admin_alert_deliveries WHERE event = 'host.agent-silent' AND payload->>'host' = 'ghost'")).toHaveLength(1);

    const status = await statusOf(second);
    const beats = Object.fromEntries(status.heartbeats.map((b: any) => [b.host, b]));
    expect(beats.ghost).toMatchObject({ silent: true, silentSince: expect.any(String) });
    const own = status.heartbeats.find((b: any) => b.host !== 'ghost');
    expect(own).toMatchObject({ silent: false });
    expect(own.ageSeconds).toBeLessThan(10);
    const doctor = await h.cli(['doctor', '--json']);
    expect(doctor.json().findings.filter((f: any) => f.kind === 'agent-silent').map((f: any) => f.host)).toEqual(['ghost']);
    const metrics = await (await fetch(`http://127.0.0.1:${second.port}/metrics`)).text();
    expect(metrics).toMatch(/^tenantctl_agent_heartbeat_age_seconds\{host="ghost"\} (3[6-9]\d\d|[4-9]\d\d\d)$/m);
    await h.adminQuery("DELETE FROM admin_agent_heartbeats WHERE host = 'ghost'");

    // The agent's role cannot forge a beat (a dead host kept fresh by a future beat_at): the database's time is recorded.
    const forged = await asAgent(async (client) => {
      await client.query("INSERT INTO admin_agent_heartbeats (host, instance, beat_at, started_at) VALUES ('forged', 'x', now() + interval '1 day', now())");
      const inserted = (await client.query("SELECT beat_at <= now() + interval '1 minute' AS honest FROM admin_agent_heartbeats WHERE host = 'forged'")).rows[0];
      await client.query("UPDATE admin_agent_heartbeats SET beat_at = now() + interval '1 day' WHERE host = 'forged'");
      const updated = (await client.query("SELECT beat_at <= now() + interval '1 minute' AS honest FROM admin_agent_heartbeats WHERE host = 'forged'")).rows[0];
      return [inserted, updated];
    }).finally(() => h.adminQuery("DELETE FROM admin_agent_heartbeats WHERE host = 'forged'"));
    expect(forged).toEqual([{ honest: true }, { honest: true }]);
  }, 120_000);

  it('the suspension policy deprovisions a due tenant with its data kept, as the agent; killed -9 and interrupted at each step, the other agent finishes it', async () => {
    const suspend = await timed('suspend', () => h.cli(['suspend', 'acme', '--reason', 'unpaid', '--json']));
    expect(suspend.exitCode, suspend.why).toBe(0);
    // The agent's role may not do this to a tenant the policy has not begun: the guard says no.
    await asAgent(async (client) => {
      const refused = async (sql: string) => expect((await client.query(sql).then(() => undefined, (e: Error) => e))?.message, sql).toMatch(/permission denied/);
      await refused("UPDATE admin_customers SET status = 'deprovisioning', kept_data = true WHERE id = 'acme'");
      await refused("UPDATE admin_customers SET deprovision_policy_at = now() WHERE id = 'acme'");
      await refused("DELETE FROM admin_allocations WHERE customer_id = 'acme'");
      await refused("UPDATE admin_api_keys SET revoked_at = now() WHERE customer_id = 'acme'");
      await refused("UPDATE admin_customers SET secrets_ciphertext = NULL WHERE id = 'acme'");
      // A backdated warning would make it due at once; a suspension is never rewritten.
      await refused("UPDATE admin_customers SET deprovision_warned_at = now() - interval '2 days' WHERE id = 'acme'");
      await refused("UPDATE admin_customers SET suspended_at = now() - interval '3 days' WHERE id = 'acme'");
    });
    // On a due tenant, the policy's own transitions as the agent's role, in one transaction that is
    // always rolled back (the last statement raises): each falsified field is refused, the honest run is not.
    const asAgentOnDue = (...agentSql: string[]) => h.adminQuery([
      "UPDATE admin_customers SET suspended_at = now() - interval '3 days', deprovision_warned_at = now() - interval '2 days' WHERE id = 'acme'",
      'SET LOCAL ROLE tenantctl_agent',
      "UPDATE admin_customers SET deprovision_policy_at = now() WHERE id = 'acme'",
      ...agentSql,
      "DO $$ BEGIN RAISE EXCEPTION 'not refused'; END $$",
    ].join(';\n')).then(() => undefined, (e: Error) => e?.message);
    const toDeprovisioning = "UPDATE admin_customers SET status = 'deprovisioning', kept_data = true, suspension_reason = NULL, suspension_public_message = NULL, suspended_at = NULL, suspended_by = NULL, deprovision_warned_at = NULL";
    expect(await asAgentOnDue(`${toDeprovisioning} WHERE id = 'acme'`,
      "UPDATE admin_customers SET status = 'deprovisioned', kept_data = true, deprovisioned_at = now() WHERE id = 'acme'")).toBe('not refused');
    expect(await asAgentOnDue("UPDATE admin_customers SET status = 'deprovisioning', kept_data = true, suspended_by = 'someone else' WHERE id = 'acme'")).toMatch(/permission denied/);
    expect(await asAgentOnDue("UPDATE admin_customers SET status = 'deprovisioning', kept_data = true, suspended_at = now() - interval '9 days' WHERE id = 'acme'")).toMatch(/permission denied/);
    expect(await asAgentOnDue(`${toDeprovisioning} WHERE id = 'acme'`,
      "UPDATE admin_customers SET status = 'deprovisioned', kept_data = true, deprovisioned_at = '2000-01-01' WHERE id = 'acme'")).toMatch(/permission denied/);
    // The policy's days are the database's (migration 029: agent up recorded this host's 2 days where
    // the agent's role cannot write): suspended 36 hours and warned 30 hours ago passes "a day" but is
    // not due, and a policy recorded off (or never recorded) lets the agent begin nothing at all.
    const policyKey = "'suspension_deprovision_after_days:' || (SELECT host FROM admin_customers WHERE id = 'acme')";
    expect((await h.adminQuery(`SELECT value FROM admin_settings WHERE key = ${policyKey}`))[0]).toEqual({ value: '2' });
    const forged = (ownerSetup: string[], ...agentSql: string[]) => h.adminQuery([
      ...ownerSetup, 'SET LOCAL ROLE tenantctl_agent', ...agentSql, "DO $$ BEGIN RAISE EXCEPTION 'not refused'; END $$",
    ].join(';\n')).then(() => undefined, (e: Error) => e?.message);
    const early = "UPDATE admin_customers SET suspended_at = now() - interval '36 hours', deprovision_warned_at = now() - interval '30 hours' WHERE id = 'acme'";
    const due = "UPDATE admin_customers SET suspended_at = now() - interval '3 days', deprovision_warned_at = now() - interval '2 days' WHERE id = 'acme'";
    const mark = "UPDATE admin_customers SET deprovision_policy_at = now() WHERE id = 'acme'";
    expect(await forged([early], mark)).toMatch(/permission denied: .*recorded policy/);
    // Marked already (as by an earlier run): the transition itself is refused too.
    expect(await forged([early, mark], `${toDeprovisioning} WHERE id = 'acme'`)).toMatch(/permission denied: .*recorded policy/);
    expect(await forged([due, `UPDATE admin_settings SET value = 'off' WHERE key = ${policyKey}`], mark)).toMatch(/permission denied/);
    expect(await forged([due, mark, `UPDATE admin_settings SET value = 'off' WHERE key = ${policyKey}`], `${toDeprovisioning} WHERE id = 'acme'`)).toMatch(/permission denied/);
    expect(await forged([due, `DELETE FROM admin_settings WHERE key = ${policyKey}`], mark)).toMatch(/permission denied/);
    // The agent's role cannot record a shorter policy for itself.
    expect(await forged([], `UPDATE admin_settings SET value = '1' WHERE key = ${policyKey}`)).toMatch(/permission denied/);
    expect(await forged([], "INSERT INTO admin_settings (key, value) VALUES ('suspension_deprovision_after_days:elsewhere', '1')")).toMatch(/permission denied/);
    // And the honest run on the recorded days passes (the control: the refusals above are the days').
    expect(await forged([due], mark, `${toDeprovisioning} WHERE id = 'acme'`)).toBe('not refused');
    // The session's time zone moves no day (review C1): a made-up zone whose daylight saving jump
    // (334 hours) fell within the last day makes "now() - 2 days" later than 36 hours ago and
    // "now() - 1 day" later than a minute ago in that session. Found for today's date (the jump's day
    // is a rule), and checked in the agent's own session first: the attack is real here.
    const zones = Array.from({ length: 366 }, (_, day) => `<AAA>+167<BBB>-167,${day}/0,${(day + 40) % 365}/0`);
    const [jump] = await h.adminQuery(`SELECT z FROM unnest($1::text[]) z
      WHERE ((now() AT TIME ZONE z) - interval '2 days') AT TIME ZONE z > now() - interval '36 hours'
        AND ((now() AT TIME ZONE z) - interval '1 day') AT TIME ZONE z > now() - interval '1 minute' LIMIT 1`, [zones]);
    expect(jump, 'a made-up time zone whose jump fell within the last day').toBeDefined();
    const inZone = `SET LOCAL TimeZone = '${jump.z}'`;
    const shifted = await asAgent(async (client) => {
      await client.query('BEGIN');
      await client.query(inZone);
      const row = (await client.query("SELECT now() - interval '2 days' > now() - interval '36 hours' AS days, now() - interval '1 day' > now() - interval '1 minute' AS day")).rows[0];
      await client.query('ROLLBACK');
      return row;
    });
    expect(shifted).toEqual({ days: true, day: true });
    expect(await forged([early], inZone, mark)).toMatch(/permission denied: .*recorded policy/);
    const warnedNow = "UPDATE admin_customers SET suspended_at = now() - interval '3 days', deprovision_warned_at = now() WHERE id = 'acme'";
    expect(await forged([warnedNow], inZone, mark)).toMatch(/permission denied: .*recorded policy/);
    expect(await forged([early, mark], inZone, `${toDeprovisioning} WHERE id = 'acme'`)).toMatch(/permission denied: .*recorded policy/);
    // A temporary table cannot stand in for the registry the guard reads (review C2): the agent's
    // role may create none (migration 029 revokes TEMPORARY from PUBLIC), and one the owner made
    // (and let the agent read) in the same session is not what the guard reads.
    expect(await forged([], 'CREATE TEMP TABLE admin_customers (id text, status text, deprovision_policy_at timestamptz)')).toMatch(/permission denied to create temporary tables/);
    expect(await forged([
      'CREATE TEMP TABLE admin_customers (id text, status text, deprovision_policy_at timestamptz)',
      "INSERT INTO pg_temp.admin_customers VALUES ('acme', 'deprovisioned', now())",
      'GRANT SELECT ON pg_temp.admin_customers TO tenantctl_agent',
    ], "DELETE FROM public.admin_allocations WHERE customer_id = 'acme'")).toMatch(/permission denied: the agent releases allocations/);
    expect((await h.adminQuery("SELECT status, deprovision_policy_at FROM admin_customers WHERE id = 'acme'"))[0]).toEqual({ status: 'suspended', deprovision_policy_at: null });
    const allocations = (await h.adminQuery("SELECT count(*)::int AS n FROM admin_allocations WHERE customer_id = 'acme'"))[0].n;
    expect(allocations).toBeGreaterThan(0);
    // The guard lets every other role's DELETE through (a BEFORE DELETE trigger returning NEW, which
    // is NULL there, would silently delete nothing): counted, then rolled back by the raise.
    const operatorDelete = await h.adminQuery(`DO $$ DECLARE n int; BEGIN
      DELETE FROM admin_allocations WHERE customer_id = 'acme'; GET DIAGNOSTICS n = ROW_COUNT;
      RAISE EXCEPTION 'operator deleted % allocations', n; END $$`).then(() => undefined, (e: Error) => e);
    expect(operatorDelete?.message).toContain(`operator deleted ${allocations} allocations`);
    expect((await h.adminQuery("SELECT count(*)::int AS n FROM admin_allocations WHERE customer_id = 'acme'"))[0].n).toBe(allocations);
    // Suspended three days ago and warned two days ago: due (deprovisionAfterDays 2).
    await h.adminQuery("UPDATE admin_customers SET suspended_at = now() - interval '3 days', deprovision_warned_at = now() - interval '2 days' WHERE id = 'acme'");

    // The first agent leads (the second stopped), and its policy pass (the first comes within
    // seconds of leading) stops at policy-deprovision:marked: killed -9 there, then (started again,
    // the tenant marked afresh) interrupted there; a mark left by a killed run must not wedge the
    // policy. Its third run goes on, to deprovision:removing: killed -9 there.
    // Not restarted by Docker behind the test's back (the test starts it).
    await execa('docker', ['update', '--restart', 'no', first.project]);
    await execa('docker', ['stop', '-t', '30', second.project]);
    const pausedAt = (step: string) => waitFor(`the policy's run to pause at ${step}`, async () => (existsSync(pauseFile) && readFileSync(pauseFile, 'utf8').startsWith(`${step} `) ? true : undefined), 60_000);
    const acmeRow = async () => (await h.adminQuery("SELECT status, kept_data, deprovision_policy_at IS NOT NULL AS policy FROM admin_customers WHERE id = 'acme'"))[0];
    await timed('first agent leads again', () => leads(first));
    for (const signal of ['KILL', 'INT']) {
      await timed(`paused at marked (${signal})`, () => pausedAt('policy-deprovision:marked'));
      expect(await acmeRow()).toEqual({ status: 'suspended', kept_data: false, policy: true });
      await execa('docker', ['kill', '-s', signal, first.project]);
      await execa('docker', ['wait', first.project], { timeout: 60_000 });
      rmSync(pauseFile, { force: true });
      expect(await acmeRow()).toEqual({ status: 'suspended', kept_data: false, policy: true });
      await execa('docker', ['start', first.project]);
    }
    // Then the verb's own steps, each killed -9 and interrupted, the first agent started again after
    // each (its resumed run passes the earlier steps, let go at once).
    const verbSteps = ['policy-deprovision:marked', 'deprovision:removing', 'deprovision:removed'];
    const kills: [string, string][] = [['deprovision:removing', 'KILL'], ['deprovision:removing', 'INT'], ['deprovision:removed', 'KILL'], ['deprovision:removed', 'INT']];
    for (const [index, [step, signal]] of kills.entries()) {
      for (const passed of verbSteps.slice(0, verbSteps.indexOf(step))) {
        await pausedAt(passed);
        rmSync(pauseFile, { force: true });
      }
      await timed(`paused at ${step} (${signal})`, () => pausedAt(step));
      expect(await acmeRow()).toEqual({ status: 'deprovisioning', kept_data: true, policy: true });
      await execa('docker', ['kill', '-s', signal, first.project]);
      await execa('docker', ['wait', first.project], { timeout: 60_000 });
      rmSync(pauseFile, { force: true });
      expect(await acmeRow()).toEqual({ status: 'deprovisioning', kept_data: true, policy: true });
      if (index < kills.length - 1) await execa('docker', ['start', first.project]);
    }

    await execa('docker', ['start', second.project]);
    await timed('policy deprovision resumed', () => waitFor('acme to be deprovisioned', async () => {
      const [row] = await h.adminQuery("SELECT status, kept_data, deprovision_policy_at FROM admin_customers WHERE id = 'acme'");
      return row.status === 'deprovisioned' && row.deprovision_policy_at === null ? row : undefined;
    }, 90_000));
    const [row] = await h.adminQuery("SELECT status, kept_data FROM admin_customers WHERE id = 'acme'");
    expect(row).toEqual({ status: 'deprovisioned', kept_data: true });
    // The stack is gone, its volumes kept; its allocations released, its keys revoked.
    const project = `${h.prefix}-acme`;
    expect((await execa('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).stdout.trim()).toBe('');
    expect((await execa('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`])).stdout.trim()).not.toBe('');
    expect((await h.adminQuery("SELECT count(*)::int AS n FROM admin_allocations WHERE customer_id = 'acme'"))[0].n).toBe(0);
    expect(await h.adminQuery("SELECT id FROM admin_api_keys WHERE customer_id = 'acme' AND revoked_at IS NULL")).toEqual([]);
    expect(existsSync(path.join(h.customersDir, 'acme'))).toBe(true);
    // Audited as the agents' doing: the policy's decision by the first, the verb finished by the second.
    const audit = await h.adminQuery("SELECT action, actor FROM admin_audit_logs WHERE customer_id = 'acme' AND action IN ('suspension.policy-deprovision', 'deprovision.started', 'deprovision.completed') ORDER BY id");
    // The verb's resume records its start again (as an operator's re-run does), then completes.
    const who = (a: { actor: string }) => (a.actor.startsWith(actorOf(second)) ? 'second' : a.actor.startsWith(actorOf(first)) ? 'first' : a.actor);
    expect(audit.map((a) => [a.action, who(a)])).toEqual([
      // Marked three times: killed -9 and interrupted after the first two marks.
      ['suspension.policy-deprovision', 'first'], ['suspension.policy-deprovision', 'first'], ['suspension.policy-deprovision', 'first'],
      // Begun by the first, resumed by it after each of the verb's first three stops, finished by the second.
      ['deprovision.started', 'first'], ['deprovision.started', 'first'], ['deprovision.started', 'first'], ['deprovision.started', 'first'], ['deprovision.started', 'second'], ['deprovision.completed', 'second'],
    ]);
    const [alert] = await h.adminQuery("SELECT payload FROM admin_alert_deliveries WHERE event = 'suspension.deprovisioned' AND payload->>'tenant' = 'acme'");
    expect(alert.payload.detail).toMatchObject({ keepData: true, resumed: true });
    // Once deprovisioned, the agent's role can do nothing more to it.
    await asAgent(async (client) => {
      expect((await client.query("UPDATE admin_customers SET status = 'active' WHERE id = 'acme'").then(() => undefined, (e: Error) => e))?.message).toMatch(/permission denied/);
    });
  }, 240_000);

  it('a scheduled admin backup that fails is admin.backup-failed, one older than two intervals admin.backup-missed, and /metrics has its age', async () => {
    // The second agent goes; the first is started again with a backup repository that does not
    // exist, so its admin-backup schedule (agent.adminBackupSchedule, every 6h by default) fails.
    const down = await h.cli(['agent', 'down', '--json'], { env: second.env });
    expect(down.exitCode, down.why).toBe(0);
    // The newest admin backup anyone made (admin-backup's audit row) finished 13 hours ago: over two of 6 hours.
    await h.adminQuery("INSERT INTO admin_audit_logs (customer_id, action, actor, new_values, created_at) VALUES (NULL, 'admin.backed-up', 'e2e', '{}', now() - interval '13 hours')");
    // The agent's role cannot date a backup in the future to silence admin.backup-missed (review H1):
    // its audit rows carry the database's time (migration 029), checked in a transaction rolled back.
    const lastAdminBackup = await asAgent(async (client) => {
      await client.query('BEGIN');
      try {
        await client.query("INSERT INTO admin_audit_logs (customer_id, action, actor, new_values, created_at) VALUES (NULL, 'admin.backed-up', 'forged', '{}', '2999-01-01')");
        // Dated as of the insert: the newest backup is "now", not 2999.
        return (await client.query('SELECT admin_last_admin_backup() = now() AS dated_now')).rows[0];
      } finally {
        await client.query('ROLLBACK');
      }
    }).catch((e: Error) => e.message);
    expect(lastAdminBackup).toEqual({ dated_now: true });
    // And a row from the future already on record (the owner's, or older than the trigger) is no backup.
    const future = await h.adminQuery([
      "INSERT INTO admin_audit_logs (customer_id, action, actor, new_values, created_at) VALUES (NULL, 'admin.backed-up', 'e2e', '{}', '2999-01-01')",
      "DO $$ BEGIN RAISE EXCEPTION 'last admin backup % hours ago', round(extract(epoch FROM now() - admin_last_admin_backup()) / 3600); END $$",
    ].join(';\n')).then(() => undefined, (e: Error) => e?.message);
    expect(future).toBe('last admin backup 13 hours ago');
    const repository = { TENANTCTL_BACKUP_REPOSITORY: `local:${path.join(h.dir, 'no-such-repository')}` };
    const up = await timed('agent up (admin backups)', () => h.cli(['agent', 'up', '--json'], { env: { ...first.env, ...repository } }));
    expect(up.exitCode, up.why).toBe(0);
    expect(up.json().schedules.added).toBe(1);
    const failed = await waitFor('admin.backup-failed', async () => (await h.adminQuery("SELECT payload FROM admin_alert_deliveries WHERE event = 'admin.backup-failed'"))[0], 60_000);
    expect(failed.payload).toMatchObject({ event: 'admin.backup-failed', summary: expect.stringMatching(/^scheduled admin database backup on .*: admin database not backed up/), detail: { kind: 'admin-backup', schedule: 'every 6h', error: expect.any(String) } });
    const [run] = await h.adminQuery("SELECT r.state, r.error FROM admin_schedule_runs r JOIN admin_schedules s ON s.id = r.schedule_id WHERE s.kind = 'admin-backup'");
    expect(run.state).toBe('failed');
    expect(failed.payload.detail.error).toBe(run.error);
    // Review M4: the admin-backup schedule was added by this agent up, so the first policy pass of
    // the new term finds nothing missed yet, however old the last admin backup is.
    const passesLogged = async () => {
      const logs = await execa('docker', ['logs', first.project], { reject: false });
      return `${logs.stdout}\n${logs.stderr}`.match(/policies: pass ended: .*/g) ?? [];
    };
    const passAfter = (before: number) => waitFor('a policies pass', async () => {
      const passes = await passesLogged();
      return passes.length > before ? passes.at(-1)! : undefined;
    }, 60_000);
    await passAfter(0);
    const missedRows = async () => h.adminQuery("SELECT payload FROM admin_alert_deliveries WHERE event = 'admin.backup-missed'");
    expect(await missedRows()).toEqual([]);
    // Counted from the schedule's creation 13 hours ago: the pass of the restarted agent's new term finds it missed.
    await h.adminQuery("UPDATE admin_schedules SET created_at = now() - interval '13 hours' WHERE kind = 'admin-backup'");
    let passes = (await passesLogged()).length;
    await execa('docker', ['restart', first.project]);
    await timed('restart and pass (admin backup missed)', () => passAfter(passes));
    const missed = (await missedRows())[0];
    expect(missed.payload.detail).toMatchObject({ kind: 'admin-backup', schedule: 'every 6h', staleSeconds: expect.any(Number) });
    expect(missed.payload.detail.staleSeconds).toBeGreaterThanOrEqual(13 * 3600);
    // Review M3: restarted again while it still holds, the agent reads from the deliveries on record
    // that the endpoint got it within the day, and queues nothing (its memory started empty).
    passes = (await passesLogged()).length;
    await execa('docker', ['restart', first.project]);
    expect(await timed('restart and pass (already sent)', () => passAfter(passes))).toMatch(/^policies: pass ended: [1-9]\d* finding\(s\), 0 delivery\(ies\) queued/);
    expect(await missedRows()).toHaveLength(1);

    // A scheduled doctor run that finds a new set of discrepancies raises doctor.findings, once: a
    // folder in customers/ with no tenant (orphan-folder), then the doctor schedule made due twice.
    const stray = path.join(h.customersDir, 'stray1');
    mkdirSync(stray, { recursive: true });
    try {
      const doctorRuns = async () => (await h.adminQuery("SELECT count(*)::int AS n FROM admin_schedule_runs r JOIN admin_schedules s ON s.id = r.schedule_id WHERE s.kind = 'doctor' AND r.state = 'succeeded'"))[0].n as number;
      const findingsRows = () => h.adminQuery("SELECT payload FROM admin_alert_deliveries WHERE event = 'doctor.findings' ORDER BY id");
      const before = await findingsRows();
      const runDoctor = async () => {
        const runs = await doctorRuns();
        await h.adminQuery("UPDATE admin_schedules SET next_run_at = now() WHERE kind = 'doctor'");
        await waitFor('a doctor run', async () => ((await doctorRuns()) > runs ? true : undefined), 60_000);
      };
      await timed('doctor run (new findings)', runDoctor);
      const raised = (await findingsRows()).slice(before.length);
      expect(raised).toHaveLength(1);
      expect(raised[0].payload).toMatchObject({ event: 'doctor.findings', summary: expect.stringMatching(/^doctor on \S+ found \d+ discrepanc/), detail: { findings: expect.arrayContaining([expect.objectContaining({ kind: 'orphan-folder', tenant: 'stray1' })]) } });
      // The same set on the next run: no second alert.
      await timed('doctor run (same findings)', runDoctor);
      expect(await findingsRows()).toHaveLength(before.length + 1);
    } finally {
      rmSync(stray, { recursive: true, force: true });
    }
    const metrics = await (await fetch(`http://127.0.0.1:${first.port}/metrics`)).text();
    const age = Number(/^tenantctl_admin_backup_age_seconds\{host="[^"]+"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(age).toBeGreaterThanOrEqual(13 * 3600);
    expect(age).toBeLessThan(13 * 3600 + 600);
    expect(metrics).toMatch(/^tenantctl_admin_backup_last_success_timestamp_seconds\{host="[^"]+"\} \d+/m);

    // One missing grant costs its own section only (review M5): without EXECUTE on the function (029
    // grants it only to a role that existed), /metrics answers without the admin backup's families
    // and logs why, and `agent up` refuses the role with the GRANT to run (exit 8).
    await h.adminQuery('REVOKE EXECUTE ON FUNCTION admin_last_admin_backup() FROM tenantctl_agent');
    // And PUBLIC's default TEMPORARY back (as a database restored from a dump has it): agent up revokes it again.
    await h.adminQuery("DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()); END $$");
    const agentMayTemp = async () => (await h.adminQuery("SELECT has_database_privilege('tenantctl_agent', current_database(), 'TEMPORARY') AS ok"))[0].ok;
    expect(await agentMayTemp()).toBe(true);
    try {
      const scrape = await fetch(`http://127.0.0.1:${first.port}/metrics`);
      expect(scrape.status).toBe(200);
      const partial = await scrape.text();
      expect(partial).toMatch(/^tenantctl_tenants\{/m);
      expect(partial).not.toMatch(/^tenantctl_admin_backup_age_seconds\{/m);
      expect((await execa('docker', ['logs', first.project], { reject: false })).stderr).toMatch(/metrics: the admin backup's age left out: .*permission denied/);
      const refused = await h.cli(['agent', 'up', '--json'], { env: { ...first.env, ...repository } });
      expect(refused.exitCode, refused.why).toBe(8);
      expect(refused.why).toMatch(/may not run admin_last_admin_backup\(\) \(migration 029\).*GRANT EXECUTE ON FUNCTION admin_last_admin_backup\(\) TO tenantctl_agent/);
      expect(await agentMayTemp()).toBe(false);
    } finally {
      await h.adminQuery('GRANT EXECUTE ON FUNCTION admin_last_admin_backup() TO tenantctl_agent');
    }
  }, 180_000);
});
