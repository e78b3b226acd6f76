import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { renderFrontdoor, type RouteInput } from '../../src/frontdoor/render.js';
import { certificateSplit } from '../../src/frontdoor/render-acme.js';
import { nextAttemptAfterFailure, renewAt, renewalDue } from '../../src/frontdoor/acme/schedule.js';
import { tempDir } from './temp-dirs.js';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FrontdoorLayout } from '../../src/frontdoor/layout.js';
import { certificateFile, installCertificate, installedCertificate, installedChain, keyFile, pemFile } from '../../src/frontdoor/acme/certificates.js';
import { serialOf } from '../../src/frontdoor/acme/issue.js';
import { servesOlder } from '../../src/frontdoor/acme/reload-in-place.js';

const tenant = (over: Partial<RouteInput> = {}): RouteInput => ({ id: 'acme', plan: 'starter', status: 'active', appPort: 3001, domains: [], snippet: false, ...over });
const config = (env: Record<string, string> = {}) => {
  const { config, errors } = loadConfig({ cwd: tempDir('acme-'), env });
  expect(errors).toEqual([]);
  return config!;
};

describe('frontdoor.acme settings', () => {
  it("defaults to Let's Encrypt's production directory and takes TENANTCTL_FRONTDOOR_ACME_* overrides", () => {
    expect(config().frontdoor.acme.directory).toBe('https://acme-v02.api.letsencrypt.org/directory');
    const c = config({ TENANTCTL_FRONTDOOR_ACME_DIRECTORY: 'https://127.0.0.1:14000/dir', TENANTCTL_FRONTDOOR_ACME_EMAIL: 'ops@example.com', TENANTCTL_FRONTDOOR_ACME_CA_BUNDLE: 'pebble.pem', TENANTCTL_FRONTDOOR_ACME_RESOLVER: '127.0.0.1:8053' });
    expect(c.frontdoor.acme).toMatchObject({ directory: 'https://127.0.0.1:14000/dir', email: 'ops@example.com', resolver: '127.0.0.1:8053' });
    expect(c.frontdoor.acme.caBundle).toMatch(/^\/.*\/pebble\.pem$/);
    expect(config({ TENANTCTL_FRONTDOOR_ACME_DNS_HOOK: '["/usr/local/bin/dns-txt","--zone","example.com"]' }).frontdoor.acme.dnsHook).toEqual(['/usr/local/bin/dns-txt', '--zone', 'example.com']);
    expect(loadConfig({ cwd: tempDir('acme-'), env: { TENANTCTL_FRONTDOOR_ACME_DNS_HOOK: 'rm -rf /' } }).errors).toEqual([expect.stringMatching(/^frontdoor\.acme\.dnsHook \(TENANTCTL_FRONTDOOR_ACME_DNS_HOOK\)/)]);
    const bad = loadConfig({ cwd: tempDir('acme-'), env: { TENANTCTL_FRONTDOOR_ACME_DIRECTORY: 'ftp://x', TENANTCTL_FRONTDOOR_ACME_EMAIL: 'not-an-address' } });
    expect(bad.errors).toEqual(expect.arrayContaining([expect.stringMatching(/^frontdoor\.acme\.directory \(TENANTCTL_FRONTDOOR_ACME_DIRECTORY\)/), expect.stringMatching(/^frontdoor\.acme\.email/)]));
  });
});

describe('rendering an ACME front door', () => {
  it('answers HTTP-01 challenges on every port-80 server before the redirect, and serves each name with its own certificate by SNI', () => {
    const c = config();
    const files = renderFrontdoor({ config: c.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 3, acme: true, tenants: [
      tenant({ hostCertificate: true, domains: [{ domain: 'crm.acme.com', ownCertificate: true }] }),
      tenant({ id: 'globex', status: 'stopped', appPort: null, hostCertificate: true }),
    ] });
    expect(files.get('acme-challenge.conf')).toMatch(/location \^~ \/\.well-known\/acme-challenge\/ \{\n\s+alias \/var\/lib\/tenantctl-acme\/;/);
    const server = files.get('t/acme/server.conf')!;
    // The challenge location comes before the redirect in the HTTP server.
    expect(server).toMatch(/listen 0\.0\.0\.0:80;\n\s+server_name acme\.tenants\.localhost crm\.acme\.com;\n\s+include acme-challenge\.conf;\n\s+location \/ \{\n\s+return 308/);
    expect(server).toContain('ssl_certificate t/acme/certs/acme.tenants.localhost.crt;');
    expect(server).toContain('ssl_certificate t/acme/certs/crm.acme.com.crt;');
    // No server block with the base certificate is left for this tenant (every name has its own).
    expect(server.match(/listen 0\.0\.0\.0:443 ssl;/g)).toHaveLength(2);
    expect(files.get('t/globex/server.conf')).toMatch(/server_name globex\.tenants\.localhost;\n\s+include acme-challenge\.conf;/);
    expect(files.get('nginx.conf')).toMatch(/server_name _;[\s\S]*include acme-challenge\.conf;[\s\S]*no tenant answers/);
  });

  it('renders no challenge location, and the base certificate as before, when ACME is off', () => {
    const files = renderFrontdoor({ config: config().frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 3, tenants: [tenant()] });
    expect(files.has('acme-challenge.conf')).toBe(false);
    expect([...files.values()].join('\n')).not.toContain('acme-challenge');
    expect(files.get('t/acme/server.conf')).toMatch(/server_name acme\.tenants\.localhost;\n\s+set \$tenantctl_tenant acme;/);
  });

  it('splits names between the base certificate and their own', () => {
    expect(certificateSplit('a.t', [{ domain: 'x.com', ownCertificate: false }], false)).toEqual({ baseNames: ['a.t', 'x.com'], ownNames: [] });
    expect(certificateSplit('a.t', [{ domain: 'x.com', ownCertificate: true }], true)).toEqual({ baseNames: [], ownNames: ['a.t', 'x.com'] });
  });
});

describe('renewal schedule', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date('2026-03-31T00:00:00Z'); // 89 days
  it('renews with a third of the lifetime left, up to a tenth of that third earlier, the same every time for a name', () => {
    const third = (notAfter.getTime() - notBefore.getTime()) / 3;
    const at = renewAt('a.example.com', notBefore, notAfter).getTime();
    expect(at).toBeLessThanOrEqual(notAfter.getTime() - third);
    expect(at).toBeGreaterThanOrEqual(notAfter.getTime() - third - third / 10);
    expect(renewAt('a.example.com', notBefore, notAfter).getTime()).toBe(at);
    const spread = new Set(['a', 'b', 'c', 'd', 'e'].map((n) => renewAt(`${n}.example.com`, notBefore, notAfter).getTime()));
    expect(spread.size).toBe(5);
    expect(renewalDue('a.example.com', notBefore, notAfter, new Date(at - 1000))).toBe(false);
    expect(renewalDue('a.example.com', notBefore, notAfter, new Date(at))).toBe(true);
  });

  it('backs off 5 min doubling to a day (+-25%), never before the CA\'s Retry-After', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const mid = () => 0.5;
    const after = (failures: number, retry?: number, random = mid) => (nextAttemptAfterFailure(failures, now, retry, random).getTime() - now.getTime()) / 60_000;
    expect(after(1)).toBe(5);
    expect(after(2)).toBe(10);
    expect(after(4)).toBe(40);
    expect(after(20)).toBe(24 * 60);
    expect(after(1, undefined, () => 0)).toBe(3.75);
    expect(after(1, undefined, () => 1)).toBe(6.25);
    expect(after(1, 3600)).toBe(60);
  });
});

describe("the CA's Retry-After", () => {
  it('reads delta-seconds and HTTP dates; anything else is none', async () => {
    const { parseRetryAfter } = await import('../../src/frontdoor/acme/client.js');
    const now = Date.parse('2026-12-06T09:00:00Z');
    expect(parseRetryAfter('3600', now)).toBe(3600);
    expect(parseRetryAfter('Sun, 06 Dec 2026 10:00:00 GMT', now)).toBe(3600);
    expect(parseRetryAfter('Sun, 06 Dec 2026 08:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('installed ACME certificates', () => {
  const selfSigned = (dir: string, name: string) => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.crt`), '-subj', `/CN=${name}`, '-days', '1'], { stdio: 'ignore' });
    return { cert: readFileSync(path.join(dir, `${name}.crt`), 'utf8'), key: readFileSync(path.join(dir, `${name}.key`), 'utf8') };
  };

  it('are read from the .pem nginx serves: a run killed after the .crt was replaced but before the .pem leaves the old one looking installed (so it is renewed again)', async () => {
    const work = tempDir('acme-pem-');
    const layout = { acmeCertsDir: path.join(work, 'certs') } as FrontdoorLayout;
    const [old, renewed] = [selfSigned(work, 'old'), selfSigned(work, 'new')];
    await installCertificate(layout, 'a.example.com', old);
    const oldSerial = new X509Certificate(old.cert).serialNumber;
    // The killed run: its .crt and .key renamed into place, the .pem not.
    writeFileSync(certificateFile(layout, 'a.example.com'), renewed.cert);
    writeFileSync(keyFile(layout, 'a.example.com'), renewed.key);
    expect(await serialOf(layout, 'a.example.com')).toBe(oldSerial);
    expect((await installedCertificate(layout, 'a.example.com'))?.file).toBe(pemFile(layout, 'a.example.com'));
    expect(new X509Certificate((await installedChain(layout, 'a.example.com'))!).serialNumber).toBe(oldSerial);
    expect(await installedChain(layout, 'a.example.com')).not.toMatch(/PRIVATE KEY/);
    // A certificate of an older tenantctl (no .pem yet): its .crt.
    rmSync(pemFile(layout, 'a.example.com'));
    expect(await serialOf(layout, 'a.example.com')).toBe(new X509Certificate(renewed.cert).serialNumber);
  });
});

describe('a renewal not taken up by nginx', () => {
  it('is one nginx presents an older certificate of the name for, not one it does not serve at all or cannot be asked about', () => {
    expect(servesOlder({ serial: 'AA', coversName: true }, 'BB')).toBe(true);
    expect(servesOlder({ serial: 'BB', coversName: true }, 'BB')).toBe(false);
    // The door's default certificate: the name is not rendered yet (the host's next sync adds it).
    expect(servesOlder({ serial: 'AA', coversName: false }, 'BB')).toBe(false);
    expect(servesOlder(new Error('ECONNREFUSED'), 'BB')).toBe(false);
  });
});
