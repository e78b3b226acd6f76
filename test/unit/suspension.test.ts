import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { decideSuspensions } from '../../src/suspension/policy.js';
import { parsePublicMessage, parseReason } from '../../src/suspension/reason.js';
import { htmlText, jsonText, suspendedApiError, suspendedPage } from '../../src/frontdoor/suspension-text.js';
import { renderFrontdoor, routeKind, type RouteInput } from '../../src/frontdoor/render.js';
import { parseSize } from '../../src/quota/size.js';
import { quotaOf } from '../../src/quota/disk-quota.js';
import { tempDir } from './temp-dirs.js';

const day = 24 * 60 * 60 * 1000;
const now = Date.parse('2026-12-06T12:00:00Z');
const ago = (ms: number) => new Date(now - ms).toISOString();

describe('suspension policy (deprovisionAfterDays)', () => {
  const warnedLongAgo = ago(2 * day);
  const tenants = [
    { id: 'old', suspendedAt: ago(30 * day + 1), warnedAt: warnedLongAgo },
    { id: 'exactly', suspendedAt: ago(30 * day), warnedAt: ago(day) },
    { id: 'tomorrow', suspendedAt: ago(29 * day + 60_000), warnedAt: null },
    { id: 'in-two-days', suspendedAt: ago(28 * day), warnedAt: null },
    { id: 'fresh', suspendedAt: ago(60_000), warnedAt: null },
  ];

  it('is off by default: nothing due, nothing to warn of, days still counted', () => {
    const d = decideSuspensions(tenants, { deprovisionAfterDays: null, now });
    expect(d.due).toEqual([]);
    expect(d.warn).toEqual([]);
    expect(d.verdicts.find((v) => v.id === 'old')).toMatchObject({ daysSuspended: 30, deprovisionAt: null, due: false, dueWithinADay: false });
  });

  it('names the warned tenants due now and the unwarned ones to warn of within the next day, not later ones', () => {
    const d = decideSuspensions(tenants, { deprovisionAfterDays: 30, now });
    expect(d.due).toEqual(['exactly', 'old']);
    expect(d.warn).toEqual(['tomorrow']);
    // Not warned yet: if warned now, due a day from now (not at 30 days, a minute earlier).
    expect(d.verdicts.find((v) => v.id === 'tomorrow')).toMatchObject({ daysSuspended: 29, due: false, dueWithinADay: true, deprovisionAt: new Date(now + day).toISOString() });
    expect(d.verdicts.find((v) => v.id === 'in-two-days')).toMatchObject({ due: false, dueWithinADay: false });
    expect(d.verdicts.find((v) => v.id === 'fresh')).toMatchObject({ daysSuspended: 0, due: false });
  });

  it('never skips the warning: a tenant never warned is never due, and one warned late is due a day after its warning', () => {
    const longAgo = ago(400 * day);
    const never = decideSuspensions([{ id: 'never-warned', suspendedAt: longAgo, warnedAt: null }], { deprovisionAfterDays: 30, now });
    expect(never.due).toEqual([]);
    expect(never.warn).toEqual(['never-warned']);
    expect(never.verdicts[0]).toMatchObject({ due: false, dueWithinADay: true, deprovisionAt: new Date(now + day).toISOString() });
    // Warned an hour ago (the agent was down on the warning's day): due in 23 hours, not now.
    const late = decideSuspensions([{ id: 'late', suspendedAt: longAgo, warnedAt: ago(3_600_000) }], { deprovisionAfterDays: 30, now });
    expect(late.due).toEqual([]);
    expect(late.warn).toEqual([]);
    expect(late.verdicts[0]).toMatchObject({ due: false, deprovisionAt: new Date(now - 3_600_000 + day).toISOString() });
    expect(decideSuspensions([{ id: 'late', suspendedAt: longAgo, warnedAt: ago(day) }], { deprovisionAfterDays: 30, now }).due).toEqual(['late']);
  });

  it('reads suspension.deprovisionAfterDays from the config and the environment (off, or 1-3650 days)', () => {
    const off = loadConfig({ cwd: tempDir('susp-'), env: {} });
    expect(off.config!.suspension.deprovisionAfterDays).toBeNull();
    expect(loadConfig({ cwd: tempDir('susp-'), env: { TENANTCTL_SUSPENSION_DEPROVISION_AFTER_DAYS: '30' } }).config!.suspension.deprovisionAfterDays).toBe(30);
    expect(loadConfig({ cwd: tempDir('susp-'), env: { TENANTCTL_SUSPENSION_DEPROVISION_AFTER_DAYS: '0' } }).errors).toEqual([expect.stringMatching(/^suspension\.deprovisionAfterDays/)]);
  });
});

describe('--reason', () => {
  it('is required, one printable line of at most 200 characters', () => {
    expect(parseReason('  unpaid   invoice ')).toBe('unpaid invoice');
    expect(() => parseReason(undefined)).toThrow(/--reason is required/);
    expect(() => parseReason('  ')).toThrow(/--reason is required/);
    expect(() => parseReason('a\u0007b')).toThrow(/printable/);
    expect(() => parseReason('x'.repeat(201))).toThrow(/at most 200/);
  });

  it('refuses control and invisible format characters (bidi overrides, zero-width) in the reason and the public message', () => {
    for (const bad of ['two\nlines', 'tab\there', 'pay\u202Edesrever', 'a\u2066b\u2069', 'zero\u200Bwidth', 'bom\uFEFF', 'soft\u00ADhyphen', 'c1\u0085', 'del\u007F', 'line\u2028sep']) {
      expect(() => parseReason(bad), JSON.stringify(bad)).toThrow(/one line of printable text: it holds U\+/);
      expect(() => parsePublicMessage(bad), JSON.stringify(bad)).toThrow(/--public-message must be one line/);
    }
    expect(parseReason('fa\u00e7ade caf\u00e9 \u{1F600} \u05E9\u05DC\u05D5\u05DD')).toBe('fa\u00e7ade caf\u00e9 \u{1F600} \u05E9\u05DC\u05D5\u05DD');
    expect(parsePublicMessage(undefined)).toBeNull();
    expect(() => parsePublicMessage(' ')).toThrow(/--public-message is empty/);
    expect(() => parsePublicMessage('m'.repeat(201))).toThrow(/at most 200/);
  });
});

describe('what the door says of a suspended tenant', () => {
  const nasty = `a'b"c$host\\d<e>&\u00e9\u{1F600}`;

  it('escapes a reason for HTML and JSON so nothing of it is special to nginx, HTML or JSON', () => {
    // Nothing that ends a single-quoted nginx string, starts a variable or breaks a line survives.
    for (const text of [htmlText(nasty), jsonText(nasty), suspendedPage('acme', nasty)]) expect(text).not.toMatch(/['$\n]/);
    expect(htmlText(nasty)).not.toMatch(/[<>"\\]/);
    expect(htmlText(nasty)).toBe('a&#39;b&#34;c&#36;host&#92;d&#60;e&#62;&#38;&#233;&#128512;');
    expect(JSON.parse(`"${jsonText(nasty)}"`)).toBe(nasty);
    expect(jsonText(nasty)).toMatch(/^[\x20-\x7e]*$/);
    expect(JSON.parse(suspendedApiError(jsonText(nasty)))).toMatchObject({ error: 'suspended', reason: nasty });
  });

  it('renders a suspended tenant as its page and 401s, never proxied; the page shows the public message or a generic text, never the reason', () => {
    const { config } = loadConfig({ cwd: tempDir('susp-'), env: {} });
    const tenant: RouteInput = { id: 'acme', plan: 'standard', status: 'suspended', suspensionReason: nasty, appPort: 3001, domains: [], snippet: false };
    expect(routeKind(tenant)).toBe('suspended');
    const files = renderFrontdoor({ config: config!.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant] });
    const server = files.get('t/acme/server.conf')!;
    expect(server).toContain('include suspended-locations.conf;');
    expect(server).toContain(`return 503 '${suspendedPage('acme', null)}\\n';`);
    expect(suspendedPage('acme', null)).toContain('Please contact the operator of this service.');
    // The internal reason reaches only the 401 of a key that passed the gateway, never the page.
    const page = /location \/ \{[^}]*\}/.exec(server)![0];
    expect(page).not.toContain(htmlText(nasty));
    expect(page).not.toContain(jsonText(nasty));
    expect(server).toContain(jsonText(nasty));
    expect(server).not.toMatch(/proxy_pass|upstream/);
    // Its shared rules proxy nothing but the key check's internal subrequest to the gateway (which
    // tells the tenant's own keys from others'): no other proxy_pass, to no app, at all.
    expect([...files.get('suspended-locations.conf')!.matchAll(/^\s*proxy_pass\s.*$/gm)].map((m) => m[0].trim())).toEqual(['proxy_pass http://tenantctl_gateway/auth;']);
    // A routed tenant's 401 names a suspension the gateway reports (before the next sync).
    expect(files.get('locations.conf')).toContain('auth_request_set $tenantctl_suspended $upstream_http_x_tenantctl_suspended;');

    const told = renderFrontdoor({ config: config!.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [{ ...tenant, suspensionMessage: nasty }] });
    expect(told.get('t/acme/server.conf')).toContain(`<p>${htmlText(nasty)}</p>`);
  });

  it('redirects a suspended tenant\'s plain HTTP to HTTPS (308) as a routed one\'s when frontdoor.redirectHttp is on, and serves the page on it when off', () => {
    const tenant: RouteInput = { id: 'acme', plan: 'standard', status: 'suspended', suspensionReason: 'x', appPort: 3001, domains: [], snippet: false };
    const render = (redirect: string) => {
      const { config } = loadConfig({ cwd: tempDir('susp-'), env: { TENANTCTL_FRONTDOOR_REDIRECT_HTTP: redirect } });
      return renderFrontdoor({ config: config!.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant] }).get('t/acme/server.conf')!;
    };
    const on = render('true');
    const servers = on.split(/^server \{/m).slice(1);
    expect(servers).toHaveLength(2);
    expect(servers[0]).toMatch(/return 308 https:\/\/\$host/);
    expect(servers[0]).not.toContain('suspended-locations.conf');
    expect(servers[1]).toContain('include suspended-locations.conf;');
    const off = render('false').split(/^server \{/m).slice(1);
    expect(off.every((s) => s.includes('include suspended-locations.conf;') && !s.includes('return 308'))).toBe(true);
  });
});

describe('disk quota', () => {
  it('parses binary and decimal sizes, and refuses anything else', () => {
    expect(parseSize('10GiB')).toBe(10 * 2 ** 30);
    expect(parseSize('1.5 GB')).toBe(1.5e9);
    expect(parseSize('1KiB')).toBe(1024);
    expect(() => parseSize('10 gigs')).toThrow(/expected a size/);
  });

  it('is per plan (plans.<plan>.diskQuota), none by default', () => {
    const { config, errors } = loadConfig({ cwd: tempDir('quota-'), env: { TENANTCTL_PLAN_STARTER_DISK_QUOTA: '500MiB' } });
    expect(errors).toEqual([]);
    expect(quotaOf(config!, 'starter')).toBe(500 * 2 ** 20);
    expect(quotaOf(config!, 'standard')).toBeNull();
    expect(loadConfig({ cwd: tempDir('quota-'), env: { TENANTCTL_PLAN_STARTER_DISK_QUOTA: 'lots' } }).errors).toEqual([expect.stringMatching(/^plans\.starter\.diskQuota/)]);
  });
});

describe('volume usage (one helper per host)', () => {
  it('mounts only the projects\' volumes read-only in one du and sums them per project', async () => {
    const { volumeUsageOn } = await import('../../src/quota/volume-usage.js');
    const calls: string[][] = [];
    const host = {
      docker: async (args: string[]) => {
        calls.push(args);
        if (args[0] === 'volume') return 'p-acme_db\tp-acme\np-acme_redis\tp-acme\nother_x\tother\np-globex_db\tp-globex\n';
        if (args[0] === 'image') return '{"/var/lib/postgresql/data":{}}\n'; // the image's declared VOLUMEs
        return '4096\t/v/0\n1024\t/v/1\n2048\t/v/2\n';
      },
    } as unknown as import('../../src/engine/docker-host.js').DockerHost;
    const usage = await volumeUsageOn(host, new Set(['p-acme', 'p-globex', 'p-empty']), { image: 'img' });
    expect(Object.fromEntries(usage.byProject)).toEqual({ 'p-acme': 5120, 'p-globex': 2048, 'p-empty': 0 });
    expect(calls.map((c) => c[0])).toEqual(['volume', 'image', 'run', 'volume']);
    const run = calls[2]!;
    // The image's own VOLUME gets a tmpfs, so the helper creates no anonymous volume.
    expect(run.join(' ')).toContain('--mount type=tmpfs,dst=/var/lib/postgresql/data');
    expect(run).toEqual(expect.arrayContaining(['--rm', '--network', 'none', '--read-only', '--security-opt', 'no-new-privileges',
      '--mount', 'type=volume,src=p-acme_db,dst=/v/0,readonly,volume-nocopy', '--mount', 'type=volume,src=p-globex_db,dst=/v/2,readonly,volume-nocopy']));
    expect(run.join(' ')).toContain('--cap-drop ALL --cap-add DAC_READ_SEARCH');
    expect(run.join(' ')).not.toContain('other_x');
    // Nothing was created by accident: nothing removed.
    expect(calls.some((c) => c[0] === 'volume' && c[1] === 'rm')).toBe(false);
  });

  it('removes a volume its run created by accident (removed after the listing: mounted, so created again, unlabelled)', async () => {
    const { volumeUsageOn } = await import('../../src/quota/volume-usage.js');
    const calls: string[][] = [];
    let listings = 0;
    const host = {
      docker: async (args: string[]) => {
        calls.push(args);
        if (args[0] === 'volume' && args[1] === 'ls') {
          listings++;
          // First the labelled listing; then, after the run, p-acme_redis exists without compose's label (the run made it).
          return listings === 1 ? 'p-acme_db\tp-acme\np-acme_redis\tp-acme\n' : 'p-acme_db\tp-acme\np-acme_redis\t\nunrelated\t\n';
        }
        if (args[0] === 'volume' && args[1] === 'rm') return '';
        if (args[0] === 'image') return 'null\n'; // an image that declares no VOLUME
        return '4096\t/v/0\n0\t/v/1\n';
      },
    } as unknown as import('../../src/engine/docker-host.js').DockerHost;
    await volumeUsageOn(host, new Set(['p-acme']), { image: 'img' });
    expect(calls.at(-1)).toEqual(['volume', 'rm', 'p-acme_redis']);
  });

  it('asks nothing more when the projects have no volumes', async () => {
    const { volumeUsageOn } = await import('../../src/quota/volume-usage.js');
    let calls = 0;
    const host = { docker: async () => { calls++; return ''; } } as unknown as import('../../src/engine/docker-host.js').DockerHost;
    expect((await volumeUsageOn(host, new Set(['p-acme']), { image: 'img' })).volumes).toBe(0);
    expect(calls).toBe(1);
  });
});

describe('doctor on a suspended tenant', () => {
  it('holds its allocations and stopped stack without a finding, and names services running while suspended', async () => {
    const { findDiscrepancies } = await import('../../src/doctor/findings.js');
    const services = ['app', 'db', 'redis', 'worker'];
    const stack = (state: (service: string) => string) => ({
      project: 't-acme', containers: services.map((service, i) => ({ id: `c${i}`, service, state: state(service) })), networks: ['t-acme_tenant'], volumes: ['t-acme_db-data', 't-acme_redis-data'],
    });
    const snapshot = (s: ReturnType<typeof stack>) => ({
      host: 'h1', engineId: 'E1', hosts: [{ name: 'h1', engineId: 'E1' }], elsewhere: {}, projectPrefix: 't', operations: [], folders: ['acme'], expectedServices: services,
      rows: [{ id: 'acme', status: 'suspended', keptData: false, composeProject: 't-acme', host: 'h1' }],
      allocations: [{ customerId: 'acme', kind: 'port', value: '3001', host: 'h1' }],
      stacks: [s],
    });
    expect(findDiscrepancies(snapshot(stack(() => 'exited')))).toEqual([]);
    const findings = findDiscrepancies(snapshot(stack((s) => (s === 'db' || s === 'redis' ? 'running' : 'exited'))));
    expect(findings).toEqual([expect.objectContaining({ kind: 'suspended-running', tenant: 'acme', detail: 'acme is suspended, but db, redis run', fixable: false })]);
  });
});

describe('backup of a suspended tenant', () => {
  it('starts only its datastore services: a frontbase tenant\'s SQLite pieces (backend, edge: app services) are copied with them stopped', async () => {
    const { servicesToStartForBackup } = await import('../../src/backups/backup.js');
    const { loadTemplate } = await import('../../src/templates/load.js');
    const piecesOf = (state: Record<string, Record<string, { service: string }>>) => Object.values(state).map((p) => {
      const [kind, spec] = Object.entries(p)[0]!;
      return { kind: kind as 'postgres', service: spec.service };
    });
    const frontbase = await loadTemplate('frontbase', {});
    expect(servicesToStartForBackup(piecesOf(frontbase.block.state as never)).sort()).toEqual(['postgres', 'redis']);
    const crm = await loadTemplate('crm', {});
    expect(servicesToStartForBackup(piecesOf(crm.block.state as never)).sort()).toEqual(['db', 'redis']);
    expect(servicesToStartForBackup([{ kind: 'sqlite', service: 'backend' }, { kind: 'volume', service: 'files' }])).toEqual([]);
  });
});
