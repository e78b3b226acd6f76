// ACME end to end: the real front door (nginx, gateway) getting certificates from a real ACME server
// (Debian's pebble, resolving through pebble-challtestsrv), HTTP-01 answered by the door itself.
// Two tenants and a custom domain get their own certificates, served by SNI and verified with
// pebble's root; failures (nothing answering, DNS elsewhere, the CA's refusal) exit 12 and leave
// nothing serving; a short certificate lifetime makes a renewal come due; a removed domain's
// certificate is revoked at the CA; testssl.sh finds nothing HIGH or CRITICAL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import http from 'node:http';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { createHarness, useOwnFrontdoor, type Harness } from './harness.js';
import { startPebble, type Pebble } from './pebble.js';
import { startPausedAt } from './pause.js';

let h: Harness;
let ports: { http: number; https: number };
let pebble: Pebble;
const base = 'tenants.example.com';
/**
 * Short, so that a renewal comes due within the test (a third of it, ~40 s, before notAfter), long
 * enough for testssl (last, on the renewed certificates) to finish on a busy host.
 */
const validitySeconds = 120;
let state: string;
const timings: Record<string, number> = {};

const ok = async (args: string[]) => {
  const result = await h.cli(args);
  expect(result.exitCode, result.why).toBe(0);
  return result;
};

/** The certificate the door presents for `servername` (SNI), as X509, and whether pebble's root verifies it. */
function presented(servername: string): Promise<{ cert: X509Certificate; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: ports.https, servername, ca: readFileSync(pebble.root), rejectUnauthorized: false }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.end();
      resolve({ cert: peer!, authorized: socket.authorized, error: socket.authorizationError ? String(socket.authorizationError) : undefined });
    });
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no TLS answer')));
  });
}

/** curl over HTTPS by SNI (the name resolved to loopback), verified with pebble's root. */
async function curl(host: string, urlPath: string) {
  const r = await execa('curl', ['-sS', '--max-time', '10', '--cacert', pebble.root, '--resolve', `${host}:${ports.https}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_code}', `https://${host}:${ports.https}${urlPath}`], { reject: false });
  return { exitCode: r.exitCode, status: String(r.stdout), stderr: String(r.stderr) };
}

const liveConf = () => path.join(state, 'frontdoor', 'conf', 'live');
const generation = () => Number(readFileSync(path.join(liveConf(), 'generation'), 'utf8'));
const acmeFile = (name: string) => path.join(state, 'frontdoor', 'acme', 'certs', name);

beforeAll(async () => {
  h = await createHarness('acme');
  ports = await useOwnFrontdoor(h);
  pebble = await startPebble(h.dir, { httpPort: ports.http, validitySeconds, blocked: ['blocked.example.org'] });
  Object.assign(h.env, {
    TENANTCTL_FRONTDOOR_BASE_DOMAIN: base,
    TENANTCTL_FRONTDOOR_ACME_DIRECTORY: pebble.directory,
    TENANTCTL_FRONTDOOR_ACME_CA_BUNDLE: pebble.tlsCa,
    TENANTCTL_FRONTDOOR_ACME_RESOLVER: pebble.dns,
    TENANTCTL_FRONTDOOR_ACME_EMAIL: 'ops@example.com',
  });
  state = h.env.TENANTCTL_STATE_DIR!;
  const started = Date.now();
  const list = await h.cli(['list']);
  if (list.exitCode !== 0) throw new Error(`list failed:\n${list.why}`);
  const provisions = await Promise.all([h.cli(['provision', 'acme']), h.cli(['provision', 'globex'])]);
  for (const r of provisions) if (r.exitCode !== 0) throw new Error(`provision failed:\n${r.why}`);
  timings.provision = Date.now() - started;
  const initStarted = Date.now();
  const init = await h.cli(['frontdoor', 'init', '--acme', '--json']);
  if (init.exitCode !== 0) throw new Error(`frontdoor init --acme failed:\n${init.why}`);
  timings.initWithTwoCertificates = Date.now() - initStarted;
  expect(init.json().acme.certificates.map((c: any) => [c.hostname, c.ok]).sort()).toEqual([[`acme.${base}`, true], [`globex.${base}`, true]]);
}, 300_000);

afterAll(async () => {
  await h?.cli(['frontdoor', 'down']);
  await pebble?.stop();
  await h?.cleanup();
  console.log('acme e2e timings (ms):', JSON.stringify(timings));
}, 120_000);

describe('certificates by ACME', () => {
  it('serves each tenant host name with its own certificate by SNI, verified with pebble\'s root', async () => {
    for (const id of ['acme', 'globex']) {
      const host = `${id}.${base}`;
      const r = await curl(host, '/api/health');
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.status).toBe('200');
      const seen = await presented(host);
      expect(seen.authorized, seen.error).toBe(true);
      expect(seen.cert.subjectAltName).toBe(`DNS:${host}`);
      expect(seen.cert.issuer).toMatch(/Pebble Intermediate CA/);
    }
    // Stored 0600 under the state dir, the account key too; recorded in the admin database.
    for (const file of [acmeFile(`acme.${base}.crt`), acmeFile(`acme.${base}.key`), path.join(state, 'frontdoor', 'acme', 'account.key')]) {
      expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
    }
    const rows = await h.adminQuery("SELECT hostname, customer_id, kind, names, issuer, not_after FROM admin_certificates WHERE kind = 'tenant' ORDER BY hostname");
    expect(rows.map((r) => [r.hostname, r.customer_id, r.names])).toEqual([[`acme.${base}`, 'acme', [`acme.${base}`]], [`globex.${base}`, 'globex', [`globex.${base}`]]]);
    expect(rows[0].issuer).toMatch(/Pebble Intermediate CA/);
    const audits = await h.adminQuery("SELECT customer_id FROM admin_audit_logs WHERE action = 'certificate.issued' ORDER BY customer_id");
    expect(audits.map((a) => a.customer_id)).toEqual(['acme', 'globex']);
    // A name without its own certificate still gets the fallback one, which pebble's root does not verify.
    expect((await presented(`nobody.${base}`)).authorized).toBe(false);
  });

  it('answers the challenge location on port 80 before the redirect, from the read-only challenge folder', async () => {
    const token = 'e2e-token_0123456789';
    const { rmSync } = await import('node:fs');
    writeFileSync(path.join(state, 'frontdoor', 'acme', 'challenges', token), 'key-authorization', { mode: 0o644 });
    try {
      const get = (host: string, p: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: ports.http, path: p, headers: { host } }, (res) => {
          let body = '';
          res.on('data', (c) => { body += c; });
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        }).on('error', reject);
      });
      expect(await get(`acme.${base}`, `/.well-known/acme-challenge/${token}`)).toEqual({ status: 200, body: 'key-authorization' });
      expect(await get('unknown.example.org', `/.well-known/acme-challenge/${token}`)).toEqual({ status: 200, body: 'key-authorization' });
      expect((await get(`acme.${base}`, '/other')).status).toBe(308);
      expect((await get(`acme.${base}`, '/.well-known/acme-challenge/missing')).status).toBe(404);
    } finally {
      rmSync(path.join(state, 'frontdoor', 'acme', 'challenges', token), { force: true });
    }
  });

  it('gets a custom domain its certificate after checking it reaches this door, with one reload', async () => {
    const before = generation();
    const added = await ok(['domains', 'add', 'acme', 'shop.example.net', '--json']);
    expect(added.json()).toMatchObject({ domain: 'shop.example.net', certificate: 'acme', changed: true });
    expect(generation()).toBe(before + 1);
    const r = await curl('shop.example.net', '/api/health');
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await presented('shop.example.net')).cert.subjectAltName).toBe('DNS:shop.example.net');
    const [row] = await h.adminQuery("SELECT customer_id, kind, serial FROM admin_certificates WHERE hostname = 'shop.example.net'");
    expect(row).toMatchObject({ customer_id: 'acme', kind: 'domain' });
  });

  it('refuses a domain whose port 80 is unreachable, whose DNS (A or AAAA) points elsewhere, or that the CA refuses: exit 12, nothing recorded or served', async () => {
    // Nothing listens on 127.0.0.2.
    await pebble.mapName('nothing.example.org', '127.0.0.2');
    // Something else answers there: a web server that is not this door.
    const other = http.createServer((_req, res) => { res.statusCode = 404; res.end('not here'); });
    await new Promise<void>((resolve) => other.listen(ports.http, '127.0.0.3', resolve));
    await pebble.mapName('elsewhere.example.org', '127.0.0.3');
    // Its A record is this door's, its AAAA record another server's (which the CA would try first).
    const otherV6 = http.createServer((_req, res) => { res.statusCode = 404; res.end('not here'); });
    await new Promise<void>((resolve) => otherV6.listen(ports.http, '::1', resolve));
    await pebble.mapName('v6-elsewhere.example.org', '::1');
    try {
      const cases: [string, RegExp][] = [
        ['nothing.example.org', /port \d+ of nothing\.example\.org \(127\.0\.0\.2\) is unreachable: ECONNREFUSED/],
        ['elsewhere.example.org', /elsewhere\.example\.org points elsewhere: 127\.0\.0\.3:\d+ answered 404/],
        ['v6-elsewhere.example.org', /v6-elsewhere\.example\.org points elsewhere over IPv6: \[::1\]:\d+ \(its AAAA record\) answered 404/],
        ['blocked.example.org', /the ACME server refused the certificate for blocked\.example\.org: .*(rejectedIdentifier|policy)/i],
      ];
      for (const [domain, why] of cases) {
        const before = generation();
        const r = await h.cli(['domains', 'add', 'globex', domain, '--json']);
        expect(r.exitCode, r.why).toBe(12);
        expect(r.json().error.message).toMatch(why);
        expect(await h.adminQuery('SELECT 1 FROM admin_customer_domains WHERE domain = $1', [domain])).toEqual([]);
        expect(existsSync(acmeFile(`${domain}.crt`))).toBe(false);
        expect(generation()).toBe(before);
        expect(readFileSync(path.join(liveConf(), 't', 'globex', 'server.conf'), 'utf8')).not.toContain(domain);
        expect((await presented(domain)).authorized).toBe(false);
      }
    } finally {
      await new Promise((resolve) => other.close(resolve));
      await new Promise((resolve) => otherV6.close(resolve));
    }
  });

  it('leaves nothing recorded or served when domains add is killed (-9, SIGINT) after the check or after the certificate, and the next add finishes', async () => {
    for (const [step, signal] of [['acme.reachable', 'SIGKILL'], ['acme.reachable', 'SIGINT'], ['acme.installed', 'SIGKILL'], ['acme.installed', 'SIGINT']] as const) {
      const domain = `${step.replace('acme.', '')}-${signal.toLowerCase()}.example.net`;
      const paused = await startPausedAt(h, ['domains', 'add', 'globex', domain], step);
      paused.child.kill(signal);
      await paused.child;
      paused.resume();
      expect(await h.adminQuery('SELECT 1 FROM admin_customer_domains WHERE domain = $1', [domain])).toEqual([]);
      expect(readFileSync(path.join(liveConf(), 't', 'globex', 'server.conf'), 'utf8')).not.toContain(domain);
      const again = await ok(['domains', 'add', 'globex', domain, '--json']);
      expect(again.json().certificate).toBe('acme');
      expect((await presented(domain)).authorized).toBe(true);
      expect(await h.adminQuery('SELECT 1 FROM admin_certificates WHERE hostname = $1', [domain])).toHaveLength(1);
    }
  }, 180_000);

  it('status shows each certificate with its days left and last error', async () => {
    const status = await ok(['frontdoor', 'status', '--json']);
    const certs = status.json().acme.certificates;
    expect(certs.map((c: any) => c.hostname)).toEqual(expect.arrayContaining([`acme.${base}`, `globex.${base}`, 'shop.example.net']));
    for (const c of certs) {
      expect(c.daysLeft).toBe(0);
      expect(c.lastError).toBeNull();
      expect(Date.parse(c.renewAt)).toBeLessThan(Date.parse(c.notAfter));
    }
    expect((await ok(['frontdoor', 'status'])).stdout).toMatch(/acme\.tenants\.example\.com\s+acme\s+0/);
  });

  it('revokes a removed domain\'s certificate at the CA and stops serving it', async () => {
    const serial = new X509Certificate(readFileSync(acmeFile('shop.example.net.crt'))).serialNumber;
    expect(await pebble.certificateStatus(serial)).toBe('Valid');
    const removed = await ok(['domains', 'remove', 'acme', 'shop.example.net', '--json']);
    expect(removed.json()).toMatchObject({ changed: true, revoked: true });
    expect(await pebble.certificateStatus(serial)).toBe('Revoked');
    expect(existsSync(acmeFile('shop.example.net.crt'))).toBe(false);
    expect((await presented('shop.example.net')).authorized).toBe(false);
    const [row] = await h.adminQuery("SELECT revoked_at FROM admin_certificates WHERE hostname = 'shop.example.net'");
    expect(row.revoked_at).not.toBeNull();
    expect(await h.adminQuery("SELECT 1 FROM admin_audit_logs WHERE action = 'certificate.revoked'")).toHaveLength(1);
  });

  it('renews what has a third of its lifetime left, with one reload, and serves the new certificates', async () => {
    const early = await ok(['frontdoor', 'renew', '--json']);
    expect(early.json().renewed).toEqual([]);
    const host = `acme.${base}`;
    const notDue = early.json().skipped.find((s: any) => s.hostname === host);
    expect(notDue.reason).toBe('not due');
    const oldSerial = new X509Certificate(readFileSync(acmeFile(`${host}.crt`))).serialNumber;
    // Wait until both tenant certificates are due (pebble's 120 s lifetime: due ~40 s before notAfter).
    const dueAt = Math.max(...early.json().skipped.filter((s: any) => s.hostname.endsWith(base)).map((s: any) => Date.parse(s.at)));
    await new Promise((r) => setTimeout(r, Math.max(0, dueAt - Date.now() + 500)));
    const before = generation();
    const started = Date.now();
    const renewed = await ok(['frontdoor', 'renew', '--json']);
    timings.renewTwo = Date.now() - started;
    expect(renewed.json().renewed).toEqual(expect.arrayContaining([`acme.${base}`, `globex.${base}`]));
    expect(renewed.json().failed).toEqual([]);
    expect(generation()).toBe(before + 1);
    const seen = await presented(host);
    expect(seen.authorized, seen.error).toBe(true);
    expect(seen.cert.serialNumber).not.toBe(oldSerial);
    expect(await h.adminQuery("SELECT 1 FROM admin_audit_logs WHERE action = 'certificate.renewed'")).not.toHaveLength(0);
  }, 150_000);
  it('records a challenge the CA cannot validate (renew exits 9, status shows the CA\'s error and the backoff) while the old certificate keeps serving', async () => {
    const host = `globex.${base}`;
    const serial = new X509Certificate(readFileSync(acmeFile(`${host}.crt`))).serialNumber;
    await pebble.mapName(host, '127.0.0.2');
    try {
      const r = await h.cli(['frontdoor', 'renew', '--force', '--json']);
      expect(r.exitCode, r.why).toBe(9);
      const failed = r.json().failed.find((f: any) => f.hostname === host);
      expect(failed.error).toMatch(/the ACME server refused the certificate for globex\.tenants\.example\.com: .*(connection refused|127\.0\.0\.2)/i);
      expect(Date.parse(failed.nextAttemptAt) - Date.now()).toBeGreaterThan(3 * 60_000);
      expect(r.json().renewed).toContain(`acme.${base}`);
      const status = await h.cli(['frontdoor', 'status', '--json']);
      const cert = status.json().acme.certificates.find((c: any) => c.hostname === host);
      expect(cert.lastError).toBe(failed.error);
      expect(status.json().problems.join('\n')).toContain(`certificate of ${host}`);
      expect((await presented(host)).cert.serialNumber).toBe(serial);
      expect(await h.adminQuery("SELECT failures FROM admin_certificates WHERE hostname = $1", [host])).toEqual([{ failures: 1 }]);
    } finally {
      await pebble.mapName(host, '127.0.0.1');
    }
  }, 120_000);

  // A targeted run (about 20 s on an idle host): protocols, server defaults (the chain verified with
  // pebble's root), HTTP headers, Heartbleed and CCS injection. Ciphers are pinned by render-edge.ts
  // (no RSA key exchange, so no ROBOT to test); the full scan takes minutes.
  it('testssl.sh finds nothing HIGH or CRITICAL at a tenant\'s host name (protocols, server defaults with pebble\'s root, headers, heartbleed, CCS)', async () => {
    const json = path.join(h.dir, 'testssl.json');
    const started = Date.now();
    const r = await execa('testssl', ['--quiet', '--color', '0', '--warnings', 'off', '--add-ca', pebble.root, '--ip', '127.0.0.1', '--jsonfile', json,
      '--openssl-timeout', '10', '--protocols', '--server-defaults', '--headers', '--heartbleed', '--ccs-injection', `acme.${base}:${ports.https}`], { reject: false, timeout: 150_000 });
    timings.testssl = Date.now() - started;
    expect(existsSync(json), `${r.stdout}\n${r.stderr}`).toBe(true);
    const findings = JSON.parse(readFileSync(json, 'utf8')) as { id: string; severity: string; finding: string }[];
    expect(findings.length).toBeGreaterThan(10);
    expect(findings.find((f) => f.id === 'cert_chain_of_trust')?.finding).toMatch(/passed/i);
    // Properties of the test CA, not of the door: pebble's certificates live 100 s here (testssl calls
    // anything under 30 days HIGH) and carry no CRL or OCSP URI (Let's Encrypt's carry a CRL URI).
    const ofTestCa: Record<string, RegExp> = { cert_expirationStatus: /expires < \d+ days|expired/, cert_notAfter: /^\d{4}-\d\d-\d\d/, cert_revocation: /Neither CRL nor OCSP URI provided/ };
    const serious = findings.filter((f) => ['HIGH', 'CRITICAL'].includes(f.severity));
    for (const f of serious.filter((f) => f.id in ofTestCa)) expect(f.finding).toMatch(ofTestCa[f.id]!);
    expect(serious.filter((f) => !(f.id in ofTestCa))).toEqual([]);
  }, 180_000);

  it('gets one DNS-01 wildcard for every tenant subdomain through the operator\'s hook (argv, no shell) when frontdoor.acme.dnsHook is set', async () => {
    // The hook: set|unset <name> <value>, publishing the TXT record in challtestsrv (pebble's DNS).
    const hook = path.join(h.dir, 'dns-hook.mjs');
    const calls = path.join(h.dir, 'dns-hook.calls');
    writeFileSync(hook, `import { appendFileSync } from 'node:fs';
const [verb, name, value] = process.argv.slice(2);
appendFileSync(${JSON.stringify(calls)}, verb + ' ' + name + '\\n');
const path = verb === 'set' ? '/set-txt' : '/clear-txt';
const body = verb === 'set' ? { host: name + '.', value } : { host: name + '.' };
const res = await fetch(${JSON.stringify(pebble.challengeManagement)} + path, { method: 'POST', body: JSON.stringify(body) });
process.exit(res.ok ? 0 : 1);
`);
    const env = { TENANTCTL_FRONTDOOR_ACME_DNS_HOOK: JSON.stringify(['node', hook]) };
    const renewed = await h.cli(['frontdoor', 'renew', '--json'], { env });
    expect(renewed.exitCode, `${renewed.why}\n${renewed.stdout}`).toBe(0);
    expect(renewed.json().issued).toEqual([`*.${base}`]);
    // One TXT value each for *.<base> and <base>, both at _acme-challenge.<base>: one after the other.
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual([`set _acme-challenge.${base}`, `unset _acme-challenge.${base}`, `set _acme-challenge.${base}`, `unset _acme-challenge.${base}`]);
    // A tenant subdomain with no certificate of its own is served with the wildcard, verified with pebble's root.
    const seen = await presented(`nobody.${base}`);
    expect(seen.authorized, seen.error).toBe(true);
    expect(seen.cert.subjectAltName).toContain(`DNS:*.${base}`);
    const [row] = await h.adminQuery('SELECT kind, customer_id FROM admin_certificates WHERE hostname = $1', [`*.${base}`]);
    expect(row).toEqual({ kind: 'wildcard', customer_id: null });
    // A hook that fails: recorded with its error and backoff, exit 9 (renew's batch), nothing else changed.
    const failing = await h.cli(['frontdoor', 'renew', '--force', '--json'], { env: { TENANTCTL_FRONTDOOR_ACME_DNS_HOOK: JSON.stringify(['false']) } });
    expect(failing.exitCode, failing.why).toBe(9);
    expect(failing.json().failed.map((f: any) => f.hostname)).toContain(`*.${base}`);
    expect(failing.json().failed.find((f: any) => f.hostname === `*.${base}`).error).toMatch(/the DNS hook false set _acme-challenge\.tenants\.example\.com exited 1/);
  }, 120_000);

  it('refuses init --acme with an ACME server it cannot reach or does not trust (exit 12), and the door keeps serving', async () => {
    const before = generation();
    const unreachable = await h.cli(['frontdoor', 'init', '--acme', '--json'], { env: { TENANTCTL_FRONTDOOR_ACME_DIRECTORY: 'https://127.0.0.1:1/dir' } });
    expect(unreachable.exitCode, unreachable.why).toBe(12);
    expect(unreachable.json().error.message).toMatch(/cannot reach the ACME server \(registering the ACME account\): .*ECONNREFUSED/);
    // pebble's root is not what signs pebble's own HTTPS: an untrusted server.
    const untrusted = await h.cli(['frontdoor', 'init', '--acme', '--json'], { env: { TENANTCTL_FRONTDOOR_ACME_DIRECTORY: pebble.directory.replace('/dir', '/dir?other'), TENANTCTL_FRONTDOOR_ACME_CA_BUNDLE: pebble.root } });
    expect(untrusted.exitCode, untrusted.why).toBe(12);
    expect(untrusted.json().error.message).toMatch(/certificate|self.signed|verify/i);
    // Nothing changed: the same generation serves, the door is still an ACME one on its old account.
    expect(generation()).toBe(before);
    expect(JSON.parse(readFileSync(path.join(state, 'frontdoor', 'state.json'), 'utf8')).tls).toBe('acme');
    expect(JSON.parse(readFileSync(path.join(state, 'frontdoor', 'acme', 'account.json'), 'utf8')).directory).toBe(pebble.directory);
  });
});
