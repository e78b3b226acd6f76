// Watching, alerts and metrics on real parts: a real tenant; `tenantctl watch` running in the
// foreground (the loops the agent runs); a webhook receiver (a Node http server here) that checks
// each delivery's HMAC with the endpoint's secret file; its db container killed -> a signed
// tenant.down within the configured window, started again -> tenant.recovered; a receiver answering
// 500 -> retried with growing gaps, the row keeping the last error; Debian's Prometheus scraping
// `tenantctl metrics --serve` and answering a query about the tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import getPort from 'get-port';
import { cliPath, containerOf, createHarness, type Harness } from './harness.js';
import { startPausedAt } from './pause.js';
import { verifySignature } from '../../src/alerts/sign.js';

interface Received {
  path: string;
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let h: Harness;
let receiver: http.Server;
let receiverUrl: string;
const received: Received[] = [];
const children: ResultPromise[] = [];
let okEndpoint: string;
let failEndpoint: string;
let okSecret: string;
let project: string;

const until = async <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

const eventsAt = (p: string, event: string) => received.filter((r) => r.path === p && JSON.parse(r.body).event === event);

const start = (args: string[], env: Record<string, string> = {}) => {
  const child = execa('node', [cliPath, ...args], { cwd: h.dir, env: { ...h.env, ...env }, reject: false, stdin: 'ignore', timeout: 280_000 });
  children.push(child);
  return child;
};

beforeAll(async () => {
  h = await createHarness('watchalerts', {
    TENANTCTL_WATCH_INTERVAL: '1',
    TENANTCTL_ALERTS_DELIVERY_INTERVAL: '0.5',
    TENANTCTL_ALERTS_BACKOFF: '0.5',
    TENANTCTL_ALERTS_MAX_ATTEMPTS: '4',
  });
  receiver = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      received.push({ path: request.url ?? '', at: Date.now(), headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(request.url === '/fail' ? 500 : 200).end(request.url === '/fail' ? 'receiver broken on purpose' : 'ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  // starter tenants are restarted by the watch when down (wa2); standard ones are not (wa1).
  // confirmPasses 1: each pass records what it sees (flap damping is unit-tested; here it would only add passes).
  writeFileSync(path.join(h.dir, 'tenantctl.config.yaml'), 'plans:\n  starter:\n    autoRestart: true\nwatch:\n  restartBackoffSeconds: 2\n  confirmPasses: 1\nalerts:\n  timeoutSeconds: 2\n');
  const provision = await h.cli(['provision', 'wa1', '--json']);
  expect(provision.exitCode, provision.why).toBe(0);
  const second = await h.cli(['provision', 'wa2', '--plan', 'starter', '--json']);
  expect(second.exitCode, second.why).toBe(0);
  project = (await h.adminQuery("SELECT compose_project FROM admin_customers WHERE id = 'wa1'"))[0].compose_project;

  const ok = await h.cli(['alerts', 'add', `${receiverUrl}/ok`, '--allow-private', '--events', 'tenant.down,tenant.recovered', '--events', 'test', '--secret-file', path.join(h.dir, 'ok.secret'), '--json']);
  expect(ok.exitCode, ok.why).toBe(0);
  okEndpoint = ok.json().id;
  okSecret = readFileSync(path.join(h.dir, 'ok.secret'), 'utf8').trim();
  const fail = await h.cli(['alerts', 'add', `${receiverUrl}/fail`, '--allow-private', '--events', 'tenant.down', '--json']);
  expect(fail.exitCode, fail.why).toBe(0);
  failEndpoint = fail.json().id;
}, 240_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(children.map((c) => c.catch(() => {})));
  await new Promise((resolve) => receiver?.close(resolve));
  await h?.cleanup();
}, 120_000);

describe('alert endpoints', () => {
  it('keeps the signing secret in a 0600 file only: never on stdout, in alerts list or in clear in the admin database', async () => {
    expect(okSecret).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect(statSync(path.join(h.dir, 'ok.secret')).mode & 0o777).toBe(0o600);
    const list = await h.cli(['alerts', 'list', '--json']);
    expect(list.exitCode, list.why).toBe(0);
    expect(list.json().map((e: any) => e.id).sort()).toEqual([okEndpoint, failEndpoint].sort());
    expect(list.stdout + list.stderr).not.toContain(okSecret);
    // The path (a Slack-style URL's token) is never shown: origin and a short hash, in list, --json and the audit row.
    expect(list.json().find((e: any) => e.id === okEndpoint).url).toMatch(new RegExp(`^${receiverUrl.replace(/\./g, '\\.')}/… \\(#[0-9a-f]{8}\\)$`));
    const human = await h.cli(['alerts', 'list']);
    expect(human.stdout + list.stdout).not.toMatch(/\/ok|\/fail/);
    const audits = await h.adminQuery("SELECT new_values::text AS v FROM admin_audit_logs WHERE action = 'alerts.endpoint-added'");
    expect(audits).toHaveLength(2);
    for (const a of audits) expect(a.v).not.toMatch(/\/ok|\/fail/);
    const [row] = await h.adminQuery('SELECT secret_ciphertext FROM admin_alert_endpoints WHERE id = $1', [okEndpoint]);
    expect(row.secret_ciphertext).toMatch(/^v1:/);
    expect(row.secret_ciphertext).not.toContain(okSecret.slice(6, 30));
  });

  it('alerts test sends one signed delivery now and reports the HTTP status', async () => {
    const test = await h.cli(['alerts', 'test', okEndpoint, '--json']);
    expect(test.exitCode, test.why).toBe(0);
    expect(test.json().deliveries).toMatchObject([{ endpoint: okEndpoint, state: 'delivered', status: 200 }]);
    const [got] = eventsAt('/ok', 'test');
    expect(got, 'the receiver got the test delivery').toBeDefined();
    expect(verifySignature(okSecret, String(got!.headers['x-tenantctl-timestamp']), got!.body, String(got!.headers['x-tenantctl-signature']))).toBe(true);
    expect(verifySignature('whsec_wrong', String(got!.headers['x-tenantctl-timestamp']), got!.body, String(got!.headers['x-tenantctl-signature']))).toBe(false);
    // A receiver that answers 500: exit 9, the status in the result, the row failed with its error.
    const bad = await h.cli(['alerts', 'test', failEndpoint, '--json']);
    expect(bad.exitCode, bad.why).toBe(9);
    expect(bad.json().deliveries).toMatchObject([{ endpoint: failEndpoint, state: 'failed', status: 500 }]);
  });

  it('refuses bad input with one line and its exit code, leaving nothing behind', async () => {
    const scheme = await h.cli(['alerts', 'add', 'ftp://example.com/x']);
    expect(scheme.exitCode, scheme.why).toBe(2);
    expect(scheme.stderr).toMatch(/http:\/\/ or https:\/\//);
    const kind = await h.cli(['alerts', 'add', `${receiverUrl}/ok`, '--allow-private', '--events', 'tenant.exploded']);
    expect(kind.exitCode, kind.why).toBe(2);
    // A loopback target without --allow-private (SSRF), and the Docker API's port even on a public name.
    const loopback = await h.cli(['alerts', 'add', `${receiverUrl}/ok`, '--secret-file', path.join(h.dir, 'never.secret')]);
    expect(loopback.exitCode, loopback.why).toBe(2);
    expect(loopback.stderr).toMatch(/127\.0\.0\.1 is a loopback, private or link-local address; add --allow-private/);
    expect(() => statSync(path.join(h.dir, 'never.secret'))).toThrow(/ENOENT/);
    const dockerPort = await h.cli(['alerts', 'add', 'http://93.184.216.34:2375/x']);
    expect(dockerPort.exitCode, dockerPort.why).toBe(2);
    expect(dockerPort.stderr).toMatch(/port 2375 is the Docker API's/);
    const taken = await h.cli(['alerts', 'add', `${receiverUrl}/ok`, '--allow-private', '--secret-file', path.join(h.dir, 'ok.secret')]);
    expect(taken.exitCode, taken.why).toBe(2);
    expect(readFileSync(path.join(h.dir, 'ok.secret'), 'utf8').trim()).toBe(okSecret);
    expect(await h.adminQuery('SELECT id FROM admin_alert_endpoints')).toHaveLength(2);
    expect(await h.adminQuery("SELECT id FROM admin_audit_logs WHERE action = 'alerts.endpoint-added'")).toHaveLength(2);
    const unknown = await h.cli(['alerts', 'remove', 'ep-zzzzzzzz']);
    expect(unknown.exitCode, unknown.why).toBe(3);
    const since = await h.cli(['events', '--since', 'yesterday']);
    expect(since.exitCode, since.why).toBe(2);
  });
});

describe('the watch', () => {
  it('a killed db container -> a signed tenant.down within the window; started again -> tenant.recovered; a 500 receiver retried with backoff', async () => {
    const watch = start(['watch']);
    // The first pass records the tenant ready (no event for a tenant first seen ready).
    await until('the first watch pass', async () => (await h.adminQuery("SELECT state FROM admin_tenant_health WHERE customer_id = 'wa1'"))[0]?.state === 'ready', 30_000);

    const db = await containerOf(project, 'db');
    const killedAt = Date.now();
    await execa('docker', ['kill', db]);
    const down = await until('a tenant.down webhook', () => eventsAt('/ok', 'tenant.down')[0], 20_000);
    const window = down.at - killedAt;
    // Configured: a pass every 1 s, deliveries every 0.5 s; the window allows a busy host's slow pass.
    expect(window).toBeLessThan(15_000);
    expect(verifySignature(okSecret, String(down.headers['x-tenantctl-timestamp']), down.body, String(down.headers['x-tenantctl-signature']))).toBe(true);
    const body = JSON.parse(down.body);
    expect(body).toMatchObject({ event: 'tenant.down', tenant: 'wa1', detail: { from: 'ready', to: 'down' } });
    expect(body.detail.reasons.join()).toMatch(/db: exited/);

    await execa('docker', ['start', db]);
    const recovered = await until('a tenant.recovered webhook', () => eventsAt('/ok', 'tenant.recovered')[0], 60_000);
    expect(verifySignature(okSecret, String(recovered.headers['x-tenantctl-timestamp']), recovered.body, String(recovered.headers['x-tenantctl-signature']))).toBe(true);
    expect(JSON.parse(recovered.body)).toMatchObject({ event: 'tenant.recovered', tenant: 'wa1', detail: { from: 'down', to: 'ready' } });

    // The /fail endpoint got tenant.down too, answered 500 each time: retried with growing gaps until maxAttempts (4).
    const failed = await until('four attempts at /fail', () => (eventsAt('/fail', 'tenant.down').length >= 4 ? eventsAt('/fail', 'tenant.down') : undefined), 30_000);
    const gaps = failed.slice(1).map((r, i) => r.at - failed[i]!.at);
    // Each attempt waits at least its backoff (0.5 s, doubled): lower bounds, which a slow host cannot break.
    gaps.forEach((gap, i) => expect(gap, `gap ${i + 1}`).toBeGreaterThanOrEqual(500 * 2 ** i - 50));
    expect(new Set(failed.map((r) => JSON.parse(r.body).id)).size, 'the same event on every retry').toBe(1);
    const rows = await until('the delivery marked failed', async () => {
      const found = await h.adminQuery("SELECT state, attempts, last_status, last_error FROM admin_alert_deliveries WHERE endpoint_id = $1 AND event = 'tenant.down'", [failEndpoint]);
      return found[0]?.state === 'failed' ? found : undefined;
    }, 10_000);
    expect(rows).toEqual([{ state: 'failed', attempts: 4, last_status: 500, last_error: 'HTTP 500 Internal Server Error' }]);
    const listed = await h.cli(['alerts', 'deliveries', '--failed', '--json']);
    expect(listed.exitCode, listed.why).toBe(0);
    expect(listed.json().find((d: any) => d.endpoint === failEndpoint && d.event === 'tenant.down')).toMatchObject({ state: 'failed', attempts: 4, lastError: 'HTTP 500 Internal Server Error' });

    watch.kill('SIGINT');
    const ended = await watch;
    expect(ended.exitCode, ended.stderr).toBe(0);

    const events = await h.cli(['events', 'wa1', '--since', '10m', '--json']);
    expect(events.exitCode, events.why).toBe(0);
    const kinds = events.json().map((e: any) => `${e.kind} ${e.from}->${e.to}`).reverse();
    expect(kinds).toEqual(['tenant.down ready->down', 'tenant.recovered down->ready']);
  }, 150_000);
});

describe('killed at each step', () => {
  it('a watch killed (-9, SIGINT) after probing records nothing; one killed after claiming deliveries loses none and sends none twice', async () => {
    const redis = await containerOf(project, 'redis');
    const redisEvents = (event: string) => eventsAt('/ok', event).filter((r) => JSON.stringify(JSON.parse(r.body).detail.reasons).includes('redis'));
    const eventCount = async () => (await h.adminQuery("SELECT count(*)::int AS n FROM admin_tenant_events WHERE customer_id = 'wa1'"))[0].n as number;
    const before = await eventCount();
    await execa('docker', ['kill', redis]);

    // -9 after the probe, before anything is recorded: nothing is.
    const probed = await startPausedAt(h, ['watch', '--once', '--json'], 'watch:probed');
    probed.child.kill('SIGKILL');
    await probed.child;
    probed.resume();
    expect(await eventCount()).toBe(before);

    // -9 after claiming the deliveries the pass raised: the event is recorded once, nothing sent yet.
    const claimed = await startPausedAt(h, ['watch', '--once', '--json'], 'alerts:claimed');
    claimed.child.kill('SIGKILL');
    await claimed.child;
    claimed.resume();
    expect(await eventCount()).toBe(before + 1);
    expect(redisEvents('tenant.down')).toHaveLength(0);
    // Its lease (alerts.timeoutSeconds + 5 s) ends, and the next run sends it: exactly once.
    await until('the leased delivery sent by a later run', async () => {
      const run = await h.cli(['watch', '--once', '--json']);
      expect(run.exitCode, run.why).toBe(0);
      return redisEvents('tenant.down').length > 0 ? true : undefined;
    }, 30_000);
    expect(redisEvents('tenant.down')).toHaveLength(1);
    const [row] = await h.adminQuery("SELECT state, attempts, claim_token FROM admin_alert_deliveries WHERE endpoint_id = $1 AND event = 'tenant.down' ORDER BY id DESC LIMIT 1", [okEndpoint]);
    expect(row).toEqual({ state: 'delivered', attempts: 1, claim_token: null });
    expect(await eventCount()).toBe(before + 1);

    // SIGINT at either point: exit 130, nothing recorded twice, the claimed rows due again at once.
    await execa('docker', ['start', redis]);
    const interruptedProbe = await startPausedAt(h, ['watch', '--once', '--json'], 'watch:probed');
    interruptedProbe.child.kill('SIGINT');
    expect((await interruptedProbe.child).exitCode).toBe(130);
    interruptedProbe.resume();
    expect(await eventCount()).toBe(before + 1);
    const interruptedClaim = await startPausedAt(h, ['watch', '--once', '--json'], 'alerts:claimed');
    interruptedClaim.child.kill('SIGINT');
    expect((await interruptedClaim.child).exitCode).toBe(130);
    interruptedClaim.resume();
    expect(await eventCount()).toBe(before + 2);
    expect(eventsAt('/ok', 'tenant.recovered')).toHaveLength(1); // the earlier db recovery only
    const next = await h.cli(['watch', '--once', '--json']);
    expect(next.exitCode, next.why).toBe(0);
    expect(eventsAt('/ok', 'tenant.recovered')).toHaveLength(2);
    expect(redisEvents('tenant.down')).toHaveLength(1);
  }, 120_000);
});

describe('an engine that does not answer', () => {
  it('is one host.unreachable event and alert (its tenants keep their state), then host.reachable', async () => {
    const added = await h.cli(['alerts', 'add', `${receiverUrl}/host`, '--allow-private', '--events', 'host.unreachable,host.reachable', '--secret-file', path.join(h.dir, 'host.secret')]);
    expect(added.exitCode, added.why).toBe(0);
    const noEngine = { DOCKER_HOST: `unix://${path.join(h.dir, 'no-engine.sock')}` };
    const gone = await h.cli(['watch', '--once', '--json'], { env: noEngine });
    expect(gone.exitCode, gone.why).toBe(0);
    expect(gone.json().passes[0]).toMatchObject({ reachable: false, tenants: 2, changes: [] });
    const again = await h.cli(['watch', '--once', '--json'], { env: noEngine });
    expect(again.json().passes[0].reachable).toBe(false);
    const back = await h.cli(['watch', '--once', '--json']);
    expect(back.json().passes[0]).toMatchObject({ reachable: true, changes: [] });
    const hostEvents = await h.adminQuery('SELECT kind FROM admin_tenant_events WHERE customer_id IS NULL ORDER BY id');
    expect(hostEvents.map((e) => e.kind)).toEqual(['host.unreachable', 'host.reachable']);
    expect(eventsAt('/host', 'host.unreachable')).toHaveLength(1);
    expect(JSON.parse(eventsAt('/host', 'host.unreachable')[0]!.body).summary).toMatch(/does not answer/);
    expect(eventsAt('/host', 'host.reachable')).toHaveLength(1);
    const removed = await h.cli(['alerts', 'remove', added.stdout.match(/ep-[a-z0-9]{8}/)![0]]);
    expect(removed.exitCode, removed.why).toBe(0);
  }, 60_000);
});

describe('two watchers at once, and an interrupted operation', () => {
  it('two watch --once at once record a change, its event and its alerts once; a tenant whose operation was killed (row running, no lock) is still watched', async () => {
    // A verb killed mid-way leaves its row running and holds no lock: `operations` calls it interrupted, and the watch must not skip the tenant for ever.
    await h.adminQuery("INSERT INTO admin_operations (customer_id, verb, host, step, actor) SELECT id, 'upgrade', host, 'started', 'e2e' FROM admin_customers WHERE id = 'wa1'");
    const kinds = async () => (await h.adminQuery("SELECT kind FROM admin_tenant_events WHERE customer_id = 'wa1' ORDER BY id")).map((r) => r.kind as string);
    // wa1 recorded ready first (this pass also shows the interrupted operation does not make it busy).
    const ready = await h.cli(['watch', '--once', '--json']);
    expect(ready.json().passes[0].busy).toEqual([]);
    expect((await h.adminQuery("SELECT state FROM admin_tenant_health WHERE customer_id = 'wa1'"))[0]).toEqual({ state: 'ready' });
    const before = await kinds();
    const worker = await containerOf(project, 'worker');
    await execa('docker', ['kill', worker]);
    // Watcher A has read the registry and probed (it saw wa1 ready, now down) and waits; watcher B
    // records the change meanwhile; A then finds the row no longer what it read and records nothing.
    const a = await startPausedAt(h, ['watch', '--once', '--json'], 'watch:probed');
    const b = await h.cli(['watch', '--once', '--json']);
    expect(b.exitCode, b.why).toBe(0);
    expect(b.json().passes[0].changes.filter((c: any) => c.tenant === 'wa1')).toMatchObject([{ tenant: 'wa1', from: 'ready', to: 'down', event: 'tenant.down' }]);
    a.resume();
    const late = await a.child;
    expect(late.exitCode, String(late.stderr)).toBe(0);
    const latePass = JSON.parse(String(late.stdout)).passes[0];
    expect(latePass.changes).toEqual([]);
    expect(latePass.busy).toEqual(['wa1']);
    expect(await kinds()).toEqual([...before, 'tenant.down']);
    const queued = await h.adminQuery("SELECT endpoint_id FROM admin_alert_deliveries WHERE event = 'tenant.down' AND payload->'detail'->>'reasons' LIKE '%worker%' ORDER BY endpoint_id");
    expect(queued.map((r) => r.endpoint_id)).toEqual([okEndpoint, failEndpoint].sort());

    await execa('docker', ['start', worker]);
    const back = await h.cli(['watch', '--once', '--json']);
    expect(back.exitCode, back.why).toBe(0);
    expect(back.json().passes[0].changes).toMatchObject([{ tenant: 'wa1', from: 'down', to: 'ready', event: 'tenant.recovered' }]);
    await h.adminQuery("UPDATE admin_operations SET state = 'failed', finished_at = now() WHERE customer_id = 'wa1' AND state = 'running'");
  }, 60_000);

  it('retention: events and finished deliveries older than watch.retentionDays are deleted; pending ones are kept', async () => {
    const [old] = await h.adminQuery("INSERT INTO admin_tenant_events (customer_id, host, kind, created_at) VALUES ('wa1', 'local', 'tenant.down', now() - interval '31 days') RETURNING id");
    const [recent] = await h.adminQuery("INSERT INTO admin_tenant_events (customer_id, host, kind, created_at) VALUES ('wa1', 'local', 'tenant.down', now() - interval '29 days') RETURNING id");
    const deliveries = await h.adminQuery(
      `INSERT INTO admin_alert_deliveries (endpoint_id, event, payload, state, next_attempt_at, created_at)
       VALUES ($1, 'test', '{}', 'delivered', NULL, now() - interval '31 days'), ($1, 'test', '{}', 'failed', NULL, now() - interval '31 days'),
              ($1, 'test', '{}', 'pending', now() + interval '1 day', now() - interval '31 days') RETURNING id, state`,
      [okEndpoint],
    );
    const run = await h.cli(['watch', '--once', '--json']);
    expect(run.exitCode, run.why).toBe(0);
    expect(run.json().pruned).toEqual({ events: 1, deliveries: 2 });
    expect(await h.adminQuery('SELECT id FROM admin_tenant_events WHERE id = ANY ($1)', [[old.id, recent.id]])).toEqual([{ id: recent.id }]);
    expect((await h.adminQuery('SELECT state FROM admin_alert_deliveries WHERE id = ANY ($1)', [deliveries.map((d) => d.id)])).map((r) => r.state)).toEqual(['pending']);
    await h.adminQuery('DELETE FROM admin_tenant_events WHERE id = $1', [recent.id]);
    await h.adminQuery('DELETE FROM admin_alert_deliveries WHERE id = ANY ($1)', [deliveries.map((d) => d.id)]);
  }, 30_000);

  it('a master key that cannot be opened after a delivery was claimed leaves its error on the row, released and due after the backoff', async () => {
    const [row] = await h.adminQuery("INSERT INTO admin_alert_deliveries (endpoint_id, event, payload, next_attempt_at) VALUES ($1, 'test', '{}', now()) RETURNING id", [okEndpoint]);
    const noKey = { TENANTCTL_MASTER_KEY: '', TENANTCTL_MASTER_KEY_FILE: path.join(h.dir, 'no-such.key') };
    const run = await h.cli(['watch', '--once', '--json'], { env: noKey });
    expect(run.exitCode, run.why).toBe(2);
    expect(run.stdout + run.stderr).toMatch(/master key missing/);
    const [after] = await h.adminQuery("SELECT state, attempts, claim_token, last_error, next_attempt_at > now() AS later FROM admin_alert_deliveries WHERE id = $1", [row.id]);
    expect(after).toMatchObject({ state: 'pending', attempts: 0, claim_token: null, later: true });
    expect(after.last_error).toMatch(/^cannot open the master key: master key missing/);
    await h.adminQuery('DELETE FROM admin_alert_deliveries WHERE id = $1', [row.id]);
  }, 30_000);
});

describe('the agent role', () => {
  it('tenantctl_agent (no superuser) runs the watch, restarts a crashed starter stack with the restart verb, and serves metrics; it cannot add endpoints or read keys', async () => {
    const [role] = await h.adminQuery("SELECT rolsuper, rolcreaterole, rolcreatedb, rolconnlimit FROM pg_roles WHERE rolname = 'tenantctl_agent'");
    expect(role).toEqual({ rolsuper: false, rolcreaterole: false, rolcreatedb: false, rolconnlimit: 16 });
    await h.adminQuery("ALTER ROLE tenantctl_agent PASSWORD 'agent-e2e-password'");
    const asAgent = { TENANTCTL_ADMIN_DATABASE_URL: `postgres://tenantctl_agent:agent-e2e-password@127.0.0.1:${h.env.TENANTCTL_ADMIN_DB_PORT}/tenantctl_admin` };

    const first = await h.cli(['watch', '--once', '--json'], { env: asAgent });
    expect(first.exitCode, first.why).toBe(0);
    expect(first.json().passes[0]).toMatchObject({ reachable: true, tenants: 2, states: { ready: 2, degraded: 0, down: 0 } });

    // A crash of wa2's app (starter: autoRestart) is found and repaired by the restart verb, as the agent role.
    await execa('docker', ['kill', await containerOf(`${h.prefix}-wa2`, 'app')]);
    const pass = await h.cli(['watch', '--once', '--json'], { env: asAgent });
    expect(pass.exitCode, pass.why).toBe(0);
    expect(pass.json().passes[0].changes).toMatchObject([{ tenant: 'wa2', from: 'ready', to: 'down', event: 'tenant.down' }]);
    expect(pass.json().passes[0].restarts).toEqual([{ tenant: 'wa2', outcome: 'restarted' }]);
    const after = await h.cli(['watch', '--once', '--json'], { env: asAgent });
    expect(after.json().passes[0].changes).toMatchObject([{ tenant: 'wa2', from: 'down', to: 'ready', event: 'tenant.recovered' }]);
    const kinds = (await h.cli(['events', 'wa2', '--json'])).json().map((e: any) => e.kind).reverse();
    expect(kinds).toEqual(['tenant.down', 'tenant.restarted', 'tenant.recovered']);
    const [audit] = await h.adminQuery("SELECT actor FROM admin_audit_logs WHERE customer_id = 'wa2' AND action = 'tenant.restarted'");
    expect(audit, 'the restart verb wrote its audit row').toBeDefined();

    const metrics = await h.cli(['metrics'], { env: asAgent });
    expect(metrics.exitCode, metrics.why).toBe(0);
    expect(metrics.stdout).toMatch(/^tenantctl_tenant_ready\{tenant="wa2"\} 1$/m);

    const add = await h.cli(['alerts', 'add', `${receiverUrl}/ok`, '--allow-private'], { env: asAgent });
    expect(add.exitCode, add.why).toBe(8);
    expect(add.stderr).toMatch(/permission denied/);
    const keys = await h.cli(['keys', 'list', 'wa1'], { env: asAgent });
    expect(keys.exitCode, keys.why).toBe(8);
    expect(keys.stderr).toMatch(/permission denied/);
  }, 150_000);
});

describe('metrics', () => {
  it('Prometheus scrapes tenantctl metrics --serve and answers queries about the tenant', async () => {
    const port = await getPort();
    const server = start(['metrics', '--serve', '--port', String(port)]);
    await until('the metrics server', async () => (await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.ok, () => false)) || undefined, 30_000);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/^tenantctl_tenants\{host="[^"]+",status="active"\} 2$/m);
    // One series per tenant service, however many containers it has.
    const upSeries = text.split('\n').filter((l) => l.startsWith('tenantctl_service_up{tenant="wa1",'));
    expect(new Set(upSeries.map((l) => l.replace(/ \S+$/, ''))).size).toBe(upSeries.length);
    const cpu = Number(/^tenantctl_service_cpu_seconds_total\{tenant="wa1",service="db"\} (\S+)$/m.exec(text)?.[1]);
    expect(cpu, 'the db container has used some CPU').toBeGreaterThan(0);
    const memory = Number(/^tenantctl_service_memory_bytes\{tenant="wa1",service="db"\} (\S+)$/m.exec(text)?.[1]);
    expect(memory).toBeGreaterThan(1024 * 1024);
    expect(Number(/^tenantctl_tenant_disk_bytes\{tenant="wa1"\} (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(1024 * 1024);
    expect(text).toMatch(/^tenantctl_operation_duration_seconds_count\{host="[^"]+",operation="provision"\} 2$/m);

    const dir = path.join(h.dir, 'prometheus');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'prometheus.yml'), [
      'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
      'scrape_configs:', '  - job_name: tenantctl', '    static_configs:', `      - targets: ['127.0.0.1:${port}']`, '',
    ].join('\n'));
    const promPort = await getPort();
    const prometheus = execa('prometheus', [
      `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn',
    ], { reject: false, stdin: 'ignore', timeout: 200_000 });
    children.push(prometheus);
    const query = async (q: string) => {
      const answer = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`).then((r) => r.json() as Promise<any>, () => undefined);
      return answer?.status === 'success' && answer.data.result.length > 0 ? answer.data.result : undefined;
    };
    const active = await until('Prometheus to have scraped tenantctl_tenants', () => query('tenantctl_tenants{status="active"}'), 60_000);
    expect(Number(active[0].value[1])).toBe(2);
    const ready = await query('tenantctl_tenant_ready{tenant="wa1"}');
    expect(Number(ready[0].value[1])).toBe(1);
    const services = await query('sum(tenantctl_service_up{tenant="wa1"})');
    expect(Number(services[0].value[1])).toBe(upSeries.length);
    expect(upSeries.length).toBe(4);
    const up = await query('up{job="tenantctl"}');
    expect(Number(up[0].value[1])).toBe(1);

    prometheus.kill('SIGTERM');
    server.kill('SIGINT');
    const [p, s] = await Promise.all([prometheus, server]);
    expect(s.exitCode, s.stderr).toBe(0);
    expect(p.exitCode === 0 || p.signal === 'SIGTERM').toBe(true);
  }, 120_000);
});
