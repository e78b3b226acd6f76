import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { renderFrontdoor, type RouteInput } from '../../src/frontdoor/render.js';
import { desiredSchedules } from '../../src/schedules/desired.js';
import { expiringCertificates } from '../../src/schedules/certificate-renewal.js';
import { tempDir } from './temp-dirs.js';

const config = (env: Record<string, string> = {}) => {
  const { config, errors } = loadConfig({ cwd: tempDir('renewal-'), env });
  expect(errors).toEqual([]);
  return config!;
};
const tenant = (over: Partial<RouteInput> = {}): RouteInput => ({ id: 'acme', plan: 'starter', status: 'active', appPort: 3001, domains: [], snippet: false, ...over });

describe('the agent\'s certificate renewal schedule', () => {
  it('is wanted only on a host whose front door is an ACME one, at agent.certificateRenewalSchedule (every 12h by default)', () => {
    const c = config();
    expect(desiredSchedules(c).map((s) => s.kind)).not.toContain('certificate-renewal');
    expect(desiredSchedules(c, { acmeDoor: true }).find((s) => s.kind === 'certificate-renewal')).toEqual({ kind: 'certificate-renewal', target: '*', spec: 'every 12h', everySeconds: 43_200, keep: null });
    const off = config({ TENANTCTL_AGENT_CERTIFICATE_RENEWAL_SCHEDULE: 'off' });
    expect(desiredSchedules(off, { acmeDoor: true }).map((s) => s.kind)).not.toContain('certificate-renewal');
    expect(config({ TENANTCTL_AGENT_CERTIFICATE_EXPIRY_ALERT_DAYS: '3' }).agent.certificateExpiryAlertDays).toBe(3);
    expect(loadConfig({ cwd: tempDir('renewal-'), env: { TENANTCTL_AGENT_CERTIFICATE_RENEWAL_SCHEDULE: 'every 10s' } }).errors).toEqual([expect.stringMatching(/^agent\.certificateRenewalSchedule/)]);
  });

  it('calls a certificate expiring when fewer than the threshold\'s days are left, expired ones included', () => {
    const now = Date.parse('2026-12-06T00:00:00Z');
    const records = [
      { hostname: 'a.example.com', customerId: 'a', notAfter: '2026-12-10T00:00:00Z' },
      { hostname: 'b.example.com', customerId: 'b', notAfter: '2027-02-01T00:00:00Z' },
      { hostname: 'c.example.com', customerId: null, notAfter: '2026-12-05T12:00:00Z' },
      { hostname: 'd.example.com', customerId: 'd', notAfter: null },
    ];
    expect(expiringCertificates(records, now, 14)).toEqual([
      { hostname: 'a.example.com', tenant: 'a', notAfter: '2026-12-10T00:00:00Z', daysLeft: 4 },
      { hostname: 'c.example.com', tenant: null, notAfter: '2026-12-05T12:00:00Z', daysLeft: -0.5 },
    ]);
    expect(expiringCertificates(records, now, 4).map((e) => e.hostname)).toEqual(['c.example.com']);
  });
});

describe('an ACME name\'s certificate in the door\'s configuration', () => {
  it('is read from the ACME folder (one PEM with chain and key) so the agent can renew it in place; an operator\'s stays in the generation', () => {
    const files = renderFrontdoor({ config: config().frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, acme: true, tenants: [
      tenant({ hostCertificate: true, acmeNames: ['acme.tenants.localhost', 'shop.acme.com'], domains: [{ domain: 'shop.acme.com', ownCertificate: true }, { domain: 'crm.acme.com', ownCertificate: true }] }),
    ] });
    const server = files.get('t/acme/server.conf')!;
    expect(server).toContain('ssl_certificate /var/lib/tenantctl-acme-certs/acme.tenants.localhost.pem;\n    ssl_certificate_key /var/lib/tenantctl-acme-certs/acme.tenants.localhost.pem;');
    expect(server).toContain('ssl_certificate /var/lib/tenantctl-acme-certs/shop.acme.com.pem;');
    expect(server).toContain('ssl_certificate t/acme/certs/crm.acme.com.crt;\n    ssl_certificate_key t/acme/certs/crm.acme.com.key;');
  });
});
