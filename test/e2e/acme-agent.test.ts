// Certificates by themselves, on real parts: the front door (nginx, gateway) with certificates from
// a real ACME server (Debian's pebble, its shared helpers in pebble.ts), and the agent (its own
// compose project, the CLI bundle in its image, its own database role) renewing them on its
// schedule, in place, with only the ACME folders and the account's files mounted. One tenant, one
// pebble with a 60 s certificate lifetime (a renewal comes due ~40 s after issuance), one alert
// receiver checking signatures. Also: `domains add` journaled and killed (-9, SIGINT) where the
// door's configuration is written and where nginx reloaded, and deprovision revoking the tenant's
// certificate at the CA.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import tls from 'node:tls';
import path from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import getPort from 'get-port';
import { execa } from 'execa';
import pg from 'pg';
import { createHarness, stopwatch, useOwnFrontdoor, type Harness } from './harness.js';
import { startPebble, type Pebble } from './pebble.js';
import { startPausedAt } from './pause.js';
import { verifySignature } from '../../src/alerts/sign.js';

let h: Harness;
let ports: { http: number; https: number };
let pebble: Pebble;
let state: string;
let agentProject: string;
let agentPort: number;
let receiver: http.Server;
let secret: string;
/** The certificate the in-place renewal replaced (its .pem), for the next test. */
let oldPem: Buffer;
const received: { headers: http.IncomingHttpHeaders; body: string; at: number }[] = [];
const base = 'agent.example.com';
const host = `acme.${base}`;
const validitySeconds = 60;
const timings: Record<string, number> = {};
const timed = stopwatch(timings);

const ok = async (args: string[], env?: Record<string, string>) => {
  const result = await h.cli(args, env ? { env } : undefined);
  expect(result.exitCode, result.why).toBe(0);
  return result;
};

async function waitFor<T>(what: string, attempt: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The certificate nginx presents for `servername` (SNI), and whether pebble's root verifies it (why
 * not, when it does not: for assertion messages; e.g. CERT_HAS_EXPIRED, the certificates live 60 s).
 */
function presented(servername: string): Promise<{ serial: string; authorized: boolean; why: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: ports.https, servername, ca: readFileSync(pebble.root), rejectUnauthorized: false }, () => {
      const peer = socket.getPeerX509Certificate()!;
      socket.end();
      resolve({ serial: peer.serialNumber, authorized: socket.authorized, why: `${servername}: ${String(socket.authorizationError ?? 'authorized')} (serial ${peer.serialNumber}, valid ${peer.validFrom} to ${peer.validTo}, now ${new Date().toUTCString()})` });
    });
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no TLS answer')));
  });
}

const acmeFile = (name: string) => path.join(state, 'frontdoor', 'acme', 'certs', name);
const installedSerial = (name: string) => new X509Certificate(readFileSync(acmeFile(`${name}.crt`))).serialNumber;
const generation = () => Number(readFileSync(path.join(state, 'frontdoor', 'conf', 'live', 'generation'), 'utf8'));
const renewalSchedule = async () => (await h.adminQuery("SELECT * FROM admin_schedules WHERE kind = 'certificate-renewal'"))[0];
const runsOf = async (id: number) => h.adminQuery("SELECT * FROM admin_schedule_runs WHERE schedule_id = $1 AND state <> 'running' ORDER BY id", [id]);
const alertsOf = (event: string) => received.map((r) => ({ ...r, payload: JSON.parse(r.body) })).filter((r) => r.payload.event === event);

/**
 * Makes the renewal schedule due now (as time passing would) and waits for its run to end. Only once
 * no run of it is in flight: a run ending after the UPDATE would set its next run an hour away, and
 * its end would be taken for the run asked for here.
 */
async function runRenewal(): Promise<any> {
  const schedule = await renewalSchedule();
  await waitFor('no renewal run in flight', async () => ((await renewalSchedule()).running_run === null ? true : undefined));
  const before = (await runsOf(schedule.id)).length;
  const [due] = await h.adminQuery('UPDATE admin_schedules SET next_run_at = now() WHERE id = $1 AND running_run IS NULL RETURNING id', [schedule.id]);
  expect(due, 'the renewal schedule made due with no run in flight').toBeDefined();
  return waitFor('the renewal run', async () => (await runsOf(schedule.id))[before], 90_000);
}

beforeAll(async () => {
  h = await createHarness('acmeagent', {
    TENANTCTL_SUBNET_POOL: `10.${190 + Math.floor(Math.random() * 30)}.0.0/16`,
    TENANTCTL_APP_PORTS: '4930-4939', TENANTCTL_DB_PORTS: '5930-5939', TENANTCTL_REDIS_PORTS: '6930-6939',
  });
  ports = await useOwnFrontdoor(h);
  pebble = await startPebble(h.dir, { httpPort: ports.http, validitySeconds });
  state = h.env.TENANTCTL_STATE_DIR!;
  agentProject = `${h.prefix}-agent`;
  agentPort = await getPort();
  Object.assign(h.env, {
    TENANTCTL_FRONTDOOR_BASE_DOMAIN: base,
    TENANTCTL_FRONTDOOR_ACME_DIRECTORY: pebble.directory,
    TENANTCTL_FRONTDOOR_ACME_CA_BUNDLE: pebble.tlsCa,
    TENANTCTL_FRONTDOOR_ACME_RESOLVER: pebble.dns,
    TENANTCTL_AGENT_PROJECT: agentProject,
    TENANTCTL_AGENT_PORT: String(agentPort),
  });
  // The renewal schedule runs when the agent starts and then when the test makes it due; a 60 s
  // certificate always has less than a day left: certificate.expiring on every run.
  writeFileSync(path.join(h.dir, 'tenantctl.config.yaml'), 'agent:\n  pollSeconds: 1\n  certificateRenewalSchedule: every 1h\n  certificateExpiryAlertDays: 1\n  doctorSchedule: "off"\nalerts:\n  deliveryIntervalSeconds: 1\n');
  receiver = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const secretFile = path.join(h.dir, 'hook.secret');
  await ok(['alerts', 'add', url, '--allow-private', '--events', 'certificate.expiring,certificate.renewal-failed', '--secret-file', secretFile, '--json']);
  secret = readFileSync(secretFile, 'utf8').trim();
  const provisioned = await timed('provision', () => h.cli(['provision', 'acme', '--json']));
  expect(provisioned.exitCode, provisioned.why).toBe(0);
  const init = await timed('frontdoor init --acme', () => h.cli(['frontdoor', 'init', '--acme', '--json']));
  expect(init.exitCode, init.why).toBe(0);
  expect(init.json().acme.certificates.map((c: any) => [c.hostname, c.ok])).toEqual([[host, true]]);
  const up = await timed('agent up', () => h.cli(['agent', 'up', '--json']));
  expect(up.exitCode, up.why).toBe(0);
}, 300_000);

afterAll(async () => {
  if (h) {
    await h.cli(['agent', 'down', '--json']).catch(() => {});
    await h.cli(['frontdoor', 'down']).catch(() => {});
  }
  await pebble?.stop();
  if (receiver) await new Promise((resolve) => receiver.close(resolve));
  await h?.cleanup();
  console.log('acme-agent e2e timings (ms):', JSON.stringify(timings));
}, 120_000);

describe('migration 025', () => {
  // Another branch's migration may write its check as an array literal (`verb = ANY ('{a,b}'::text[])`)
  // rather than IN (...) (`ARRAY['a'::text, ...]`): 025 keeps every value of either shape. Run on
  // scratch tables in a schema of their own, rolled back.
  it('adds its values to checks of both shapes, keeping theirs', async () => {
    const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(state, 'admin-db.env'), 'utf8'))![1];
    const client = new pg.Client({ host: '127.0.0.1', port: Number(h.env.TENANTCTL_ADMIN_DB_PORT), user: 'tenantctl', password, database: 'tenantctl_admin' });
    await client.connect();
    const migration = readFileSync(path.join(import.meta.dirname, '..', '..', 'scripts', 'admin-migrations', '025_certificate_renewal.sql'), 'utf8');
    try {
      for (const [kinds, verbs] of [["kind IN ('backup', 'watch')", "verb IN ('create', 'upgrade')"], ["kind = ANY ('{backup,watch}'::text[])", "verb = ANY ('{create,upgrade}'::text[])"]]) {
        await client.query('BEGIN');
        try {
          await client.query('CREATE SCHEMA tct_scratch_025; SET LOCAL search_path = tct_scratch_025');
          await client.query(`CREATE TABLE admin_schedules (id serial, kind text CHECK (${kinds}));
            CREATE TABLE admin_operations (id serial, verb text CHECK (${verbs}), finished_at timestamptz, CHECK (verb <> 'x' OR finished_at IS NULL));
            CREATE TABLE admin_certificates (hostname text, customer_id text, kind text, names text[], not_before timestamptz, not_after timestamptz, issuer text, serial text,
              issued_at timestamptz, last_attempt_at timestamptz, last_error text, failures int, next_attempt_at timestamptz, revoked_at timestamptz);
            INSERT INTO admin_schedules (kind) VALUES ('watch'); INSERT INTO admin_operations (verb) VALUES ('upgrade')`);
          await client.query(migration);
          await client.query("INSERT INTO admin_schedules (kind) VALUES ('backup'), ('certificate-renewal'); INSERT INTO admin_operations (verb) VALUES ('create'), ('domains-add')");
          await expect(client.query("INSERT INTO admin_operations (verb) VALUES ('nonsense')")).rejects.toThrow(/check constraint/);
        } finally {
          await client.query('ROLLBACK');
        }
      }
    } finally {
      await client.end();
    }
  }, 60_000);
});

describe('the agent renews certificates by itself', () => {
  it('is given only the ACME certificates and challenges (read-write) and the account (read-only) of the door, and only renewal\'s rights', async () => {
    const { stdout } = await execa('docker', ['inspect', '--format', '{{json .Mounts}}', agentProject]);
    const mounts = (JSON.parse(stdout) as { Source: string; RW: boolean }[]).filter((m) => m.Source.startsWith(path.join(state, 'frontdoor')));
    const door = path.join(state, 'frontdoor', 'acme');
    expect(mounts.map((m) => [path.relative(door, m.Source), m.RW]).sort()).toEqual([['account.json', false], ['account.key', false], ['certs', true], ['challenges', true]]);
    // The door's configuration, its local CA and the gateway's login stay out.
    expect(JSON.parse(stdout).some((m: { Source: string }) => /frontdoor\/(conf|tls|domains)|gateway\.json|admin-db\.env|gateway-db\.env/.test(m.Source))).toBe(false);
    const [rights] = await h.adminQuery(`SELECT has_table_privilege('tenantctl_agent', 'admin_certificates', 'SELECT') AS sel,
      has_table_privilege('tenantctl_agent', 'admin_certificates', 'DELETE') AS del, has_column_privilege('tenantctl_agent', 'admin_certificates', 'hostname', 'UPDATE') AS rename,
      has_column_privilege('tenantctl_agent', 'admin_certificates', 'serial', 'UPDATE') AS serial`);
    expect(rights).toEqual({ sel: true, del: false, rename: false, serial: true });
    const schedule = await renewalSchedule();
    expect(schedule).toMatchObject({ target: '*', spec: 'every 1h' });
  }, 60_000);

  it('runs on start (nothing due yet) and raises certificate.expiring, signed, for a certificate below the threshold', async () => {
    const schedule = await renewalSchedule();
    const [first] = await waitFor('the first renewal run', async () => ((await runsOf(schedule.id)).length ? runsOf(schedule.id) : undefined));
    expect(first.state, first.error ?? '').toBe('succeeded');
    expect(first.actor).toMatch(/^agent:/);
    const expiring = await waitFor('certificate.expiring', async () => alertsOf('certificate.expiring')[0]);
    expect(expiring.payload).toMatchObject({ tenant: 'acme', detail: { hostname: host, thresholdDays: 1 } });
    expect(expiring.payload.detail.daysLeft).toBeLessThan(1);
    expect(verifySignature(secret, String(expiring.headers['x-tenantctl-timestamp']), expiring.body, String(expiring.headers['x-tenantctl-signature']))).toBe(true);
  // Its own deadline above all the waits' (60 s each): the agent's first run comes after its start
  // (a container, a Node process, its leader lock), which a loaded host can make take longer than the
  // default 30 s, and a wait that runs out should say which it was.
  }, 150_000);

  it('shows each certificate\'s seconds left on its /metrics', async () => {
    // The agent reads its clock somewhere inside the scrape: the value lies between notAfter minus the
    // time after the scrape and notAfter minus the time before it (±1 for its rounding), however long
    // a loaded host makes the scrape take.
    const asked = Date.now();
    const text = await (await fetch(`http://127.0.0.1:${agentPort}/metrics`)).text();
    const answered = Date.now();
    const line = text.split('\n').find((l) => l.startsWith('tenantctl_certificate_expiry_seconds{') && l.includes(`name="${host}"`));
    expect(line, text.slice(0, 2000)).toMatch(/tenant="acme"/);
    const seconds = Number(line!.split(' ').pop());
    const notAfter = Date.parse((await h.adminQuery('SELECT not_after FROM admin_certificates WHERE hostname = $1', [host]))[0].not_after);
    expect(seconds).toBeGreaterThanOrEqual(Math.floor((notAfter - answered) / 1000) - 1);
    expect(seconds).toBeLessThanOrEqual(Math.ceil((notAfter - asked) / 1000) + 1);
  }, 60_000);

  it('raises certificate.renewal-failed with the CA\'s error when the CA cannot validate, and status shows it', async () => {
    const status = await ok(['frontdoor', 'status', '--json']);
    const renewAt = Date.parse(status.json().acme.certificates.find((c: any) => c.hostname === host).renewAt);
    await new Promise((r) => setTimeout(r, Math.max(0, renewAt - Date.now() + 500)));
    // pebble now resolves the name to an address where nothing answers: its HTTP-01 validation fails.
    await pebble.mapName(host, '127.0.0.2');
    const run = await timed('failed renewal run', runRenewal);
    expect(run.state).toBe('failed');
    const failed = await waitFor('certificate.renewal-failed', async () => alertsOf('certificate.renewal-failed')[0]);
    expect(failed.payload.detail).toMatchObject({ hostname: host });
    expect(failed.payload.detail.error).toMatch(/ACME server refused the certificate for acme\.agent\.example\.com/);
    expect(verifySignature(secret, String(failed.headers['x-tenantctl-timestamp']), failed.body, String(failed.headers['x-tenantctl-signature']))).toBe(true);
    const after = (await ok(['frontdoor', 'status', '--json'])).json().acme.certificates.find((c: any) => c.hostname === host);
    expect(after.lastError).toMatch(/ACME server refused/);
    expect((await ok(['frontdoor', 'status'])).stdout).toMatch(/ACME server refused/);
  // Up to ~40 s waiting for the certificate to come due, then the run and the alert (90 s and 60 s at most).
  }, 240_000);

  it('renews a due certificate in place and nginx serves it without a new generation', async () => {
    // Back to challtestsrv's default (loopback, where the door answers).
    const cleared = await fetch(`${pebble.challengeManagement}/clear-a`, { method: 'POST', body: JSON.stringify({ host: `${host}.` }) });
    expect(cleared.status).toBe(200);
    // Its backoff after the failure (5 minutes at least) is over, as time passing would make it.
    await h.adminQuery('UPDATE admin_certificates SET next_attempt_at = NULL WHERE hostname = $1', [host]);
    const oldSerial = installedSerial(host);
    oldPem = readFileSync(acmeFile(`${host}.pem`));
    const before = generation();
    const run = await timed('renewal run', runRenewal);
    expect(run.state, run.error ?? '').toBe('succeeded');
    const renewed = installedSerial(host);
    expect(renewed).not.toBe(oldSerial);
    const seen = await presented(host);
    expect({ serial: seen.serial, authorized: seen.authorized }, seen.why).toEqual({ serial: renewed, authorized: true });
    expect(generation()).toBe(before);
    const [row] = await h.adminQuery('SELECT serial, last_error, failures FROM admin_certificates WHERE hostname = $1', [host]);
    expect(row).toEqual({ serial: renewed, last_error: null, failures: 0 });
    const audit = await h.adminQuery("SELECT actor FROM admin_audit_logs WHERE action = 'certificate.renewed' ORDER BY id DESC LIMIT 1");
    expect(audit[0].actor).toMatch(/^agent:/);
    // The renewed file is the agent's, on the door's folder, 0600.
    expect((await execa('stat', ['-c', '%a', acmeFile(`${host}.pem`)])).stdout).toBe('600');
  }, 120_000);

  it('reloads nginx on its next run when a certificate installed was never taken up (a run killed before its reload, or a reload refused)', async () => {
    const renewedPem = readFileSync(acmeFile(`${host}.pem`));
    // In its backoff, so the runs below issue nothing: only what nginx serves is compared with the .pem.
    await h.adminQuery("UPDATE admin_certificates SET next_attempt_at = now() + interval '1 hour' WHERE hostname = $1", [host]);
    try {
      // What a run killed between installing and reloading leaves: a .pem nginx does not serve yet
      // (here the previous certificate, which the door can serve as well as any).
      writeFileSync(acmeFile(`${host}.pem`), oldPem, { mode: 0o600 });
      const run = await timed('renewal run that only reloads', runRenewal);
      expect(run.state, run.error ?? '').toBe('succeeded');
      expect((await presented(host)).serial).toBe(new X509Certificate(oldPem).serialNumber);
    } finally {
      // The renewed one back for the tests below (the next door sync, domains add's, serves it).
      writeFileSync(acmeFile(`${host}.pem`), renewedPem, { mode: 0o600 });
      await h.adminQuery('UPDATE admin_certificates SET next_attempt_at = NULL WHERE hostname = $1', [host]);
    }
  }, 120_000);
});

describe('domains add, journaled', () => {
  const cases = [['frontdoor:written', 'SIGKILL'], ['frontdoor:written', 'SIGINT'], ['frontdoor:reloaded', 'SIGKILL'], ['frontdoor:reloaded', 'SIGINT']] as const;
  // One test per case (each its own domain): a case that fails or runs out of time is named, with its own deadline.
  it.each(cases)('killed at %s with %s (where the door\'s configuration is written or reloaded), is finished by the next command (or in-process on Ctrl-C): the domain served with its own certificate, the operation completed', async (step, signal) => {
    const domain = `${step.split(':')[1]}-${signal.toLowerCase()}.example.net`;
    const paused = await startPausedAt(h, ['domains', 'add', 'acme', domain, '--json'], step);
    const [op] = await h.adminQuery("SELECT step, state FROM admin_operations WHERE verb = 'domains-add' AND data->>'domain' = $1", [domain]);
    expect(op).toEqual({ step: 'recorded', state: 'running' });
    paused.child.kill(signal);
    const ended = await paused.child;
    paused.resume();
    if (signal === 'SIGINT') {
      expect(ended.exitCode, String(ended.stderr)).toBe(130);
    } else {
      // Killed: recorded, maybe not yet served; the journal says so, and the next command finishes it.
      expect((await h.adminQuery("SELECT state FROM admin_operations WHERE verb = 'domains-add' AND data->>'domain' = $1", [domain]))[0].state).toBe('running');
      const again = await ok(['domains', 'add', 'acme', domain, '--json']);
      expect(again.json()).toMatchObject({ changed: false, certificate: 'acme' });
    }
    expect((await h.adminQuery("SELECT state FROM admin_operations WHERE verb = 'domains-add' AND data->>'domain' = $1", [domain]))[0].state).toBe('completed');
    const served = await presented(domain);
    expect(served.authorized, served.why).toBe(true);
    expect(served.serial).toBe(installedSerial(domain));
    expect(await h.adminQuery('SELECT 1 FROM admin_certificates WHERE hostname = $1 AND revoked_at IS NULL', [domain])).toHaveLength(1);
  }, 120_000);

  it('killed (-9) after the certificate is issued, is undone by the next command: nothing recorded, no certificate left', async () => {
    const domain = 'issued-sigkill.example.net';
    const paused = await startPausedAt(h, ['domains', 'add', 'acme', domain], 'acme.installed');
    paused.child.kill('SIGKILL');
    await paused.child;
    paused.resume();
    expect(existsSync(acmeFile(`${domain}.pem`))).toBe(true);
    expect((await h.adminQuery("SELECT step FROM admin_operations WHERE verb = 'domains-add' AND state = 'running'"))[0].step).toBe('issued');
    // The next command that takes the tenant's lock settles it first (any verb; here `domains add`
    // on another name, killed where the journal shows the first one settled and its own begun).
    const next = await startPausedAt(h, ['domains', 'add', 'acme', 'next.example.net'], 'acme.reachable');
    const ops = await h.adminQuery("SELECT data->>'domain' AS domain, state, reason FROM admin_operations WHERE verb = 'domains-add' AND data->>'domain' IN ($1, 'next.example.net') ORDER BY id", [domain]);
    next.child.kill('SIGINT');
    expect((await next.child).exitCode).toBe(130);
    next.resume();
    expect(ops).toEqual([{ domain, state: 'undone', reason: 'interrupted at issued' }, { domain: 'next.example.net', state: 'running', reason: null }]);
    expect(existsSync(acmeFile(`${domain}.pem`))).toBe(false);
    expect(existsSync(acmeFile(`${domain}.key`))).toBe(false);
    expect(await h.adminQuery('SELECT 1 FROM admin_customer_domains WHERE domain = $1', [domain])).toEqual([]);
    // Ctrl-C before anything was issued: undone in-process.
    expect((await h.adminQuery("SELECT state FROM admin_operations WHERE data->>'domain' = 'next.example.net'"))[0].state).toBe('undone');
    expect(await h.adminQuery("SELECT 1 FROM admin_operations WHERE verb = 'domains-add' AND state = 'running'")).toEqual([]);
  }, 120_000);
});

describe('a door that does not take the tenant up', () => {
  it('completes domains add with a warning (nginx -t refusing the tenant over its bad .pem, pinned on it), and frontdoor reload serves it once fixed', async () => {
    const domain = 'refused.example.net';
    const good = readFileSync(acmeFile(`${host}.pem`));
    writeFileSync(acmeFile(`${host}.pem`), 'not a certificate\n', { mode: 0o600 });
    try {
      const added = await ok(['domains', 'add', 'acme', domain, '--json']);
      expect(added.json().frontdoorWarning).toMatch(/nginx -t refused acme's new configuration \(.*acme\.agent\.example\.com\.pem/);
      const [op] = await h.adminQuery("SELECT state FROM admin_operations WHERE verb = 'domains-add' AND data->>'domain' = $1", [domain]);
      expect(op.state).toBe('completed');
      expect(await h.adminQuery('SELECT 1 FROM admin_customer_domains WHERE domain = $1', [domain])).toHaveLength(1);
    } finally {
      writeFileSync(acmeFile(`${host}.pem`), good, { mode: 0o600 });
    }
    // Nothing left running to settle: the next command on the tenant works, and the door serves the domain.
    await ok(['frontdoor', 'reload', '--json']);
    const served = await presented(domain);
    expect(served.authorized, served.why).toBe(true);
    // Its own certificate again (60 s ones: maybe expired by now, so by serial).
    expect((await presented(host)).serial).toBe(installedSerial(host));
  }, 90_000);
});

describe('deprovision', () => {
  it('revokes the tenant\'s certificates at the CA and removes their files', async () => {
    const serials = [host, 'written-sigkill.example.net'].map((n) => [n, installedSerial(n)] as const);
    // A deprovision whose door sync failed or was killed: the registry no longer has the tenant, the
    // door still serves it. The agent's run neither renews nor revokes its certificates (nginx -t of
    // the live configuration, which reads them, would fail): the door's next sync revokes them.
    const [{ status }] = await h.adminQuery("SELECT status FROM admin_customers WHERE id = 'acme'");
    await h.adminQuery("UPDATE admin_customers SET status = 'deprovisioned' WHERE id = 'acme'");
    try {
      const run = await timed('renewal run, tenant gone from the registry', runRenewal);
      expect(run.state, run.error ?? '').toBe('succeeded');
      for (const [name] of serials) expect(existsSync(acmeFile(`${name}.pem`)), name).toBe(true);
      expect((await presented(host)).serial).toBe(installedSerial(host));
    } finally {
      await h.adminQuery("UPDATE admin_customers SET status = $1 WHERE id = 'acme'", [status]);
    }
    for (const [, serial] of serials) expect(await pebble.certificateStatus(serial)).toBe('Valid');
    const gone = await timed('deprovision', () => h.cli(['deprovision', 'acme', '--yes', '--json']));
    expect(gone.exitCode, gone.why).toBe(0);
    for (const [name, serial] of serials) {
      expect(await pebble.certificateStatus(serial), name).toBe('Revoked');
      expect(existsSync(acmeFile(`${name}.pem`)), name).toBe(false);
    }
    expect(existsSync(acmeFile(`${host}.key`))).toBe(false);
    const [row] = await h.adminQuery('SELECT revoked_at FROM admin_certificates WHERE hostname = $1', [host]);
    expect(row.revoked_at).not.toBeNull();
  }, 120_000);
});
