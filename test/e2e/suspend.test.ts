// Suspension end to end, on real parts: the front door (tenantctl/nginx and this worktree's gateway,
// built into its own tag here), a crm tenant on the local engine, curl --resolve over TLS verified
// with the local CA. suspend stops the stack and keeps its data, keys and allocations; the door
// answers browsers with the page naming the reason and keyed API calls with a 401 naming the
// suspension; backup works while suspended; start is refused; resume serves it again with the same
// rows and keys. Each verb is killed (-9) and interrupted (SIGINT) at a pause point, then run again.
// Disk quota: a tenant over its plan's tiny quota shows as over in status --json.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import path from 'node:path';
import { containerOf, createHarness, dockerObjectsWithPrefix, stopwatch, useOwnFrontdoor, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { interrupt, killHard, projectOf, psqlIn } from './journal.js';

const root = path.resolve(import.meta.dirname, '..', '..');
// This worktree's gateway (dist/gateway, npm run build) in a tag of this file's own: the shared
// tenantctl/gateway:latest is left to whoever else is testing on the host.
const gatewayImage = 'tenantctl-e2e-suspend/gateway:test';
const base = 'tenants.localhost';
// Characters that would break out of nginx, HTML or JSON if they were not escaped.
const reason = `invoice 2026-11 unpaid <b>"$host"</b> & 'more'`;
// The worst case the page and the 401 must carry past nginx -t: 200 characters (the limit), each
// special to nginx, JSON or HTML or outside ASCII (an emoji is two UTF-16 units, 12 escaped bytes).
const worst = `${"'\"$\\{};\u{1F600}".repeat(22)}'$`;

let h: Harness;
let ports: { http: number; https: number };
let ca: string;
let key: string;
let globexKey: string;
const timings: Record<string, number> = {};
const timed = stopwatch(timings);

interface Answer { status: number; body: string; headers: string }

/** curl through the front door at https://<host>:<port><path>, the name resolved to loopback. */
async function door(host: string, urlPath: string, headers: Record<string, string> = {}): Promise<Answer> {
  const url = `https://${host}:${ports.https}${urlPath}`;
  const args = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const r = await execa('curl', ['-sS', '--max-time', '10', '--cacert', ca, '--resolve', `${host}:${ports.https}:127.0.0.1`, '-D', '-', ...args, url], { reject: false });
  if (r.exitCode !== 0) throw new Error(`curl ${url}: exit ${r.exitCode}: ${r.stderr}`);
  const [head, ...rest] = String(r.stdout).split(/\r?\n\r?\n/);
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(head!)![1]), body: rest.join('\n\n'), headers: head! };
}
const browser = () => door(`acme.${base}`, '/', { accept: 'text/html' });
const keyed = () => door(`acme.${base}`, '/api/ping', { authorization: `Bearer ${key}` });

/** Polls until `check` holds (a verdict cached before a change lives keyCacheSeconds + 1 s). */
async function eventually(ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const ok = async (args: string[]) => {
  const r = await h.cli(args);
  expect(r.exitCode, r.why).toBe(0);
  return r;
};

async function runningContainers(): Promise<number> {
  const { stdout } = await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${projectOf(h, 'acme')}`]);
  return stdout.split('\n').filter(Boolean).length;
}

/** What suspension must keep: key hashes, allocations, volumes, rows. */
async function kept() {
  const objects = await dockerObjectsWithPrefix(projectOf(h, 'acme'));
  return {
    keys: await h.adminQuery("SELECT id, key_hash, revoked_at FROM admin_api_keys WHERE customer_id = 'acme' ORDER BY id"),
    allocations: await h.adminQuery("SELECT kind, purpose, value FROM admin_allocations WHERE customer_id = 'acme' ORDER BY kind, purpose"),
    containers: objects.containers.length,
    volumes: objects.volumes.sort(),
  };
}

async function noOperationRunning(): Promise<void> {
  expect(await h.adminQuery("SELECT verb, step FROM admin_operations WHERE customer_id = 'acme' AND state = 'running'")).toEqual([]);
}

let before: Awaited<ReturnType<typeof kept>>;
let rows: string;

beforeAll(async () => {
  await timed('gateway image', async () => {
    await execa('docker', ['build', '-q', '--build-arg', 'NODE_IMAGE=tenantctl/node:bookworm', '-f', 'images/gateway/Dockerfile', '-t', gatewayImage, 'dist/gateway'], { cwd: root, timeout: 180_000 });
  });
  // Port ranges of this file's own: a suspended tenant's ports are held in its registry but not bound
  // on the host, and other test files (each with its own registry) share the default ranges.
  const b = 20_000 + Math.floor(Math.random() * 45) * 200;
  h = await createHarness('suspend', {
    TENANTCTL_PLAN_STARTER_DISK_QUOTA: '1KiB',
    TENANTCTL_APP_PORTS: `${b}-${b + 49}`, TENANTCTL_DB_PORTS: `${b + 50}-${b + 99}`, TENANTCTL_REDIS_PORTS: `${b + 100}-${b + 149}`,
  });
  ports = await useOwnFrontdoor(h, { TENANTCTL_FRONTDOOR_GATEWAY_IMAGE: gatewayImage });
  ca = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'tls', 'ca.crt');
  await timed('setup', async () => {
    const list = await h.cli(['list']);
    if (list.exitCode !== 0) throw new Error(list.why);
    const [acme, globex] = await Promise.all([h.cli(['provision', 'acme', '--json']), h.cli(['provision', 'globex', '--plan', 'starter', '--json'])]);
    for (const r of [acme, globex]) if (r.exitCode !== 0) throw new Error(r.why);
    key = acme.json().initialApiKey.key;
    globexKey = globex.json().initialApiKey.key;
    const init = await h.cli(['frontdoor', 'init', '--self-signed', '--json']);
    if (init.exitCode !== 0) throw new Error(init.why);
  });
  await psqlIn(h, 'acme', 'CREATE TABLE k (n bigint); INSERT INTO k SELECT g FROM generate_series(1, 5000) g');
  rows = await psqlIn(h, 'acme', 'SELECT count(*) || \' \' || sum(n) FROM k');
  before = await kept();
}, 300_000);

afterAll(async () => {
  await h?.cli(['frontdoor', 'down']);
  await h?.cleanup();
  await execa('docker', ['image', 'rm', gatewayImage], { reject: false });
  console.log(`suspend.test timings (ms): ${JSON.stringify(timings)}`);
}, 120_000);

describe('suspend and resume', () => {
  it('suspend killed (-9) once marked is finished by its re-run: stack stopped, data, keys and allocations kept', async () => {
    expect((await keyed()).status).toBe(200);
    expect((await browser()).status).toBe(200);
    const run = await startPausedAt(h, ['suspend', 'acme', '--reason', reason], 'suspend:marked');
    // Marked: the stack is already stopped (before the row changed), so the app is never served
    // by a marked tenant; the gateway refuses the tenant's keys, naming the suspension.
    expect(await runningContainers()).toBe(0);
    await eventually(5_000, async () => (await keyed()).status === 401);
    // The door still routes it (not synced yet): the 401's body is built from the gateway's header.
    expect(JSON.parse((await keyed()).body)).toMatchObject({ error: 'suspended', reason });
    expect([502, 503]).toContain((await browser()).status);
    await killHard(run);
    // Any sync renders the tenant from its registry status: the page, whatever the journal says.
    await ok(['frontdoor', 'reload']);
    expect((await h.adminQuery("SELECT step FROM admin_operations WHERE customer_id = 'acme' AND state = 'running'"))).toEqual([{ step: 'marked' }]);
    const page = await browser();
    expect(page.status).toBe(503);
    expect(page.body).toContain('This service is suspended');
    const again = await timed('suspend re-run', () => ok(['suspend', 'acme', '--reason', reason, '--json']));
    expect(again.json()).toMatchObject({ id: 'acme', outcome: 'already-suspended', status: 'suspended', suspension: { reason, by: 'e2e-suspend' } });
    expect(again.stderr).toContain('the interrupted suspend of acme is finished');
    await noOperationRunning();
    expect(await runningContainers()).toBe(0);
    const now = await kept();
    expect(now).toEqual(before);
    const audit = await h.adminQuery("SELECT action, new_values FROM admin_audit_logs WHERE customer_id = 'acme' AND action = 'tenant.suspended'");
    expect(audit).toHaveLength(1);
    expect(audit[0].new_values.suspension_reason).toBe(reason);
    // Migration 019: each check keeps every value it had and gains its own; the gateway's role may
    // read the reason and none of the other new columns.
    const checks = await h.adminQuery(`SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conname IN ('admin_customers_status_check', 'admin_operations_verb_check') ORDER BY conname`);
    const values = (def: string) => [...def.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]).sort();
    expect(checks.map((c) => [c.conname, values(c.def)])).toEqual([
      ['admin_customers_status_check', ['active', 'deprovisioned', 'deprovisioning', 'failed', 'provisioning', 'stopped', 'suspended']],
      // scheduled-backup is 017's (the agent), kept by 019's rebuild; pitr-restore (023), recover (024)
      // and domains-add (025) came after, each rebuilt from the list as it stood; pitr-prune (028) and owner-conversion (030) too.
      ['admin_operations_verb_check', ['backup-prune', 'doctor-fix', 'domains-add', 'move', 'owner-conversion', 'pitr-prune', 'pitr-restore', 'recover', 'restore', 'resume', 'rotate-secrets', 'scheduled-backup', 'suspend', 'upgrade']],
    ]);
    const grants = await h.adminQuery(`SELECT column_name, has_column_privilege('tenantctl_gateway', 'admin_customers', column_name, 'SELECT') AS readable
      FROM information_schema.columns WHERE table_name = 'admin_customers' AND column_name IN ('suspension_reason', 'suspended_at', 'suspended_by') ORDER BY column_name`);
    expect(grants).toEqual([
      { column_name: 'suspended_at', readable: false },
      { column_name: 'suspended_by', readable: false },
      { column_name: 'suspension_reason', readable: true },
    ]);
  }, 180_000);

  it('the door answers browsers with a generic page, and only the tenant\'s own keys with a 401 naming the suspension', async () => {
    const page = await browser();
    expect(page.status).toBe(503);
    expect(page.headers).toMatch(/content-type: text\/html/i);
    expect(page.headers).toMatch(/cache-control: no-store/i);
    expect(page.body).toContain('This service is suspended');
    expect(page.body).toContain('Please contact the operator of this service.');
    // The reason is internal: not on the page every visitor sees.
    expect(page.body).not.toContain('invoice');
    const api = await keyed();
    expect(api.status).toBe(401);
    expect(JSON.parse(api.body)).toMatchObject({ error: 'suspended', reason });
    // Without a key of the tenant (none, or another tenant's) the API says nothing of it.
    for (const headers of [{}, { authorization: `Bearer ${globexKey}` }] as Record<string, string>[]) {
      const other = await door(`acme.${base}`, '/api/ping', headers);
      expect(other.status).toBe(401);
      expect(JSON.parse(other.body).error).toBe('unauthorized');
      expect(other.body).not.toContain('invoice');
    }
    // Plain HTTP is redirected to HTTPS as for a routed tenant (frontdoor.redirectHttp, on by default).
    const plain = await execa('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '--resolve', `acme.${base}:${ports.http}:127.0.0.1`, `http://acme.${base}:${ports.http}/x?y=1`]);
    expect(plain.stdout).toBe(`308 https://acme.${base}:${ports.https}/x?y=1`);
    expect((await door(`acme.${base}`, '/api/health')).status).toBe(503);
  }, 180_000);

  it('status, list and suspended show it; backup works while suspended; start is refused (exit 5)', async () => {
    const status = await h.cli(['status', 'acme', '--json']);
    expect(status.exitCode).toBe(5);
    const text = await h.cli(['status', 'acme']);
    expect(text.exitCode).toBe(5);
    expect(text.stdout).toContain(`suspended since`);
    expect(text.stderr).toContain(`acme is suspended: ${reason}`);
    expect(status.json().tenant).toMatchObject({ status: 'suspended', suspension: { reason, by: 'e2e-suspend' } });
    const list = await ok(['list', '--status', 'suspended', '--json']);
    expect(list.json().map((t: any) => [t.id, t.status, t.live])).toEqual([['acme', 'suspended', 'stopped']]);
    const suspended = await ok(['suspended', '--json']);
    expect(suspended.json()).toMatchObject({ deprovisionAfterDays: null, due: [], warn: [], tenants: [{ id: 'acme', daysSuspended: 0, deprovisionAt: null, due: false }] });
    // The policy, with the suspension 29.5 days old: due tomorrow at 30 days, due now at 29.
    await h.adminQuery("UPDATE admin_customers SET suspended_at = now() - interval '29 days 12 hours' WHERE id = 'acme'");
    const tomorrow = await h.cli(['suspended', '--json'], { env: { TENANTCTL_SUSPENSION_DEPROVISION_AFTER_DAYS: '30' } });
    expect(tomorrow.json()).toMatchObject({ deprovisionAfterDays: 30, due: [], warn: ['acme'], tenants: [{ id: 'acme', daysSuspended: 29, due: false, dueWithinADay: true }] });
    expect((await h.cli(['suspended', '--due', '--json'], { env: { TENANTCTL_SUSPENSION_DEPROVISION_AFTER_DAYS: '30' } })).json().tenants).toEqual([]);
    // Past 29 days but never warned: not due; warned now (the agent's markDeprovisionWarned), due a day later.
    const unwarned = await h.cli(['suspended', '--json'], { env: { TENANTCTL_SUSPENSION_DEPROVISION_AFTER_DAYS: '29' } });
    expect(unwarned.json()).toMatchObject({ due: [], warn: ['acme'], tenants: [{ id: 'acme', due: false, dueWithinADay: true, warnedAt: null }] });
    await h.adminQuery("UPDATE admin_customers SET deprovision_warned_at = now() - interval '1 day' WHERE id = 'acme'");
    const now = await h.cli(['suspended', '--due', '--json'], { env: { TENANTCTL_SUSPENSION_DEPROVISION_AFTER_DAYS: '29' } });
    expect(now.json()).toMatchObject({ due: ['acme'], warn: [], tenants: [{ id: 'acme', due: true }] });

    // A suspended tenant's stopped stack and held allocations are no discrepancy.
    const doctor = await h.cli(['doctor', '--json']);
    expect(doctor.exitCode, doctor.why).toBe(0);

    const backup = await timed('backup while suspended', () => ok(['backup', 'acme', '--json']));
    expect(backup.json().tenant).toBe('acme');
    expect(await runningContainers()).toBe(0);

    const start = await h.cli(['start', 'acme']);
    expect(start.exitCode, start.why).toBe(5);
    expect(start.stderr).toContain(`suspended: ${reason}`);
    expect(start.stderr).toContain('tenantctl resume acme');
    expect(await runningContainers()).toBe(0);
  }, 180_000);

  it('resume hung up (SIGHUP) once started, or interrupted (SIGINT) once proven ready, stops the stack again and stays suspended', async () => {
    // A dropped ssh session once the stack runs again: undone like Ctrl-C (stopped again), exit 129.
    const hup = await startPausedAt(h, ['resume', 'acme'], 'resume:started');
    expect(await runningContainers()).toBeGreaterThan(0);
    hup.child.kill('SIGHUP');
    const hung = await hup.child;
    hup.resume();
    expect(hung.exitCode, String(hung.stderr)).toBe(129);
    expect(String(hung.stderr)).toContain('stays suspended');
    await noOperationRunning();
    expect(await runningContainers()).toBe(0);

    // Proven ready but not committed: a failing run never commits; the stack is stopped again.
    const run = await startPausedAt(h, ['resume', 'acme'], 'resume:ready');
    const ended = await interrupt(run);
    expect(ended.exitCode, ended.stderr).toBe(130);
    expect(ended.stderr).toContain('stays suspended');
    await noOperationRunning();
    expect(await runningContainers()).toBe(0);
    expect((await h.adminQuery("SELECT status FROM admin_customers WHERE id = 'acme'"))[0].status).toBe('suspended');
    expect((await browser()).status).toBe(503);
  }, 180_000);

  it('resume killed (-9) once ready is finished by its re-run: served again, same rows, same key', async () => {
    const run = await startPausedAt(h, ['resume', 'acme'], 'resume:ready');
    // Proven ready but not committed: the door still says suspended.
    expect((await browser()).status).toBe(503);
    await killHard(run);
    const again = await timed('resume re-run', () => ok(['resume', 'acme', '--json']));
    // The re-run settles the killed one (proven ready again, committed), then finds it active.
    expect(again.stderr).toContain('the interrupted resume of acme is finished');
    expect(again.json().outcome).toBe('already-active');
    await noOperationRunning();
    await eventually(10_000, async () => (await keyed()).status === 200);
    expect((await browser()).status).toBe(200);
    expect(await psqlIn(h, 'acme', 'SELECT count(*) || \' \' || sum(n) FROM k')).toBe(rows);
    expect(await kept()).toEqual(before);
    const status = await h.cli(['status', 'acme', '--json']);
    expect(status.exitCode, status.why).toBe(0);
    expect(status.json().tenant.suspension).toBeNull();
  }, 180_000);

  it('suspend interrupted (SIGINT) once the door closed is finished in-process; a worst-case reason and message pass nginx -t; resume serves it again', async () => {
    expect(worst).toHaveLength(200);
    const run = await startPausedAt(h, ['suspend', 'acme', '--reason', worst, '--public-message', worst], 'suspend:door-closed');
    // door-closed is recorded only after a sync that succeeded (nginx -t took both at 200 characters).
    const page = await browser();
    expect(page.status).toBe(503);
    expect(page.body).toContain(`<p>${"&#39;&#34;&#36;&#92;&#123;&#125;;&#128512;".repeat(22)}&#39;&#36;</p>`);
    expect(JSON.parse((await keyed()).body)).toMatchObject({ error: 'suspended', reason: worst });
    const ended = await interrupt(run);
    expect(ended.exitCode, ended.stderr).toBe(130);
    expect(ended.stderr).toContain('the suspension was finished');
    await noOperationRunning();
    expect(await runningContainers()).toBe(0);
    const again = await ok(['suspend', 'acme', '--reason', worst, '--json']);
    expect(again.json()).toMatchObject({ outcome: 'already-suspended', door: 'closed', suspension: { reason: worst, publicMessage: worst } });

    const resumed = await timed('resume', () => ok(['resume', 'acme', '--json']));
    expect(resumed.json()).toMatchObject({ outcome: 'resumed', status: 'active', suspension: { reason: worst } });
    await eventually(10_000, async () => (await keyed()).status === 200);
    expect(await psqlIn(h, 'acme', 'SELECT count(*) || \' \' || sum(n) FROM k')).toBe(rows);
    expect(await kept()).toEqual(before);
    expect(await containerOf(projectOf(h, 'acme'), 'app')).toBeTruthy();
  }, 180_000);

  it('suspend killed (-9) before the row changed is undone by the next command on the tenant (start)', async () => {
    const run = await startPausedAt(h, ['suspend', 'acme', '--reason', 'never'], 'suspend:begun');
    await killHard(run);
    const status = await h.cli(['status', 'acme', '--json']);
    expect(status.exitCode).toBe(5);
    expect(status.json().operation).toMatchObject({ verb: 'suspend', step: 'begun' });
    const start = await ok(['start', 'acme', '--json']);
    expect(start.json().outcome).toBe('already-running');
    expect(start.stderr).toContain('the interrupted suspend of acme is undone');
    await noOperationRunning();
    expect((await h.adminQuery("SELECT status, suspension_reason FROM admin_customers WHERE id = 'acme'"))[0]).toEqual({ status: 'active', suspension_reason: null });
    expect((await keyed()).status).toBe(200);
  }, 180_000);

  it('refuses a suspension without a reason, or with a bidi override in it (exit 2), changing nothing', async () => {
    const r = await h.cli(['suspend', 'acme']);
    expect(r.exitCode, r.why).toBe(2);
    expect(r.stderr).toContain('--reason is required');
    const bidi = await h.cli(['suspend', 'acme', '--reason', 'ok', '--public-message', 'pay \u202Eefil']);
    expect(bidi.exitCode, bidi.why).toBe(2);
    expect(bidi.stderr).toContain('U+202E');
    expect((await h.adminQuery("SELECT status FROM admin_customers WHERE id = 'acme'"))[0].status).toBe('active');
    expect(await h.adminQuery("SELECT verb FROM admin_operations WHERE customer_id = 'acme' AND state = 'running'")).toEqual([]);
  }, 180_000);

  it('suspend interrupted (SIGINT) once stopped is finished in-process; a reason, message and actor (TENANTCTL_ACTOR) of "now()" are stored as text, not as the time', async () => {
    const run = await startPausedAt(h, ['suspend', 'acme', '--reason', 'now()', '--public-message', 'now()'], 'suspend:stopped', { TENANTCTL_ACTOR: 'now()' });
    // Stopped, not yet marked: the door still routes it, to an app that does not answer.
    expect(await runningContainers()).toBe(0);
    expect((await h.adminQuery("SELECT status FROM admin_customers WHERE id = 'acme'"))[0].status).toBe('active');
    expect([502, 503]).toContain((await browser()).status);
    const ended = await interrupt(run);
    expect(ended.exitCode, ended.stderr).toBe(130);
    expect(ended.stderr).toContain('the suspension was finished');
    await noOperationRunning();
    expect((await browser()).body).toContain('<p>now()</p>');
    const [row] = await h.adminQuery("SELECT suspension_reason, suspension_public_message, suspended_by, suspended_at IS NOT NULL AS dated FROM admin_customers WHERE id = 'acme'");
    expect(row).toEqual({ suspension_reason: 'now()', suspension_public_message: 'now()', suspended_by: 'now()', dated: true });
    await timed('resume (now())', () => ok(['resume', 'acme']));
  }, 180_000);
});

describe('disk quota', () => {
  it('shows a tenant over its plan\'s tiny quota as over in status --json, and one without a quota as unlimited', async () => {
    const over = await ok(['status', 'globex', '--json']);
    expect(over.json().disk).toMatchObject({ quotaBytes: 1024, over: true });
    expect(over.json().disk.usedBytes).toBeGreaterThan(1024);
    // Without a quota status does not pay for a measurement unless asked (--disk).
    expect((await ok(['status', 'acme', '--json'])).json().disk).toMatchObject({ usedBytes: null, quotaBytes: null, over: false });
    const unlimited = await ok(['status', 'acme', '--disk', '--json']);
    expect(unlimited.json().disk).toMatchObject({ quotaBytes: null, over: false });
    expect(unlimited.json().disk.usedBytes).toBeGreaterThan(0);
    // tenantsOverQuota, as the agent will ask it: only globex (starter, 1 KiB) is over.
    const quota = await ok(['quota', '--json']);
    expect(quota.json()).toMatchObject({ over: [{ id: 'globex', plan: 'starter', quotaBytes: 1024 }], unmeasured: [] });
    expect(quota.json().over).toHaveLength(1);
    // Measured again (its PostgreSQL writes meanwhile): over the quota, not byte for byte the same.
    expect(quota.json().over[0].usedBytes).toBeGreaterThan(1024);
  }, 180_000);
});
