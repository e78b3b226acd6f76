import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { nginxWorkers, renderFrontdoor, renderSnippet, routeKind, type RouteInput } from '../../src/frontdoor/render.js';
import { parseDomain } from '../../src/frontdoor/domains.js';
import { nginxReason, tenantOfError } from '../../src/frontdoor/sync.js';
import { coversHost } from '../../src/frontdoor/tls.js';
import { tempDir } from './temp-dirs.js';
import { readFileSync } from 'node:fs';
import type { FrontdoorLayout } from '../../src/frontdoor/layout.js';
import { mountsAcmeCerts, writeComposeFile } from '../../src/frontdoor/stack.js';

const config = () => {
  const { config, errors } = loadConfig({ cwd: tempDir('fd-'), env: { TENANTCTL_FRONTDOOR_HTTPS_PORT: '8443', TENANTCTL_FRONTDOOR_RATE_STARTER: '7/9' } });
  expect(errors).toEqual([]);
  return config!;
};
const tenant = (over: Partial<RouteInput> = {}): RouteInput => ({ id: 'acme', plan: 'starter', status: 'active', appPort: 3001, domains: [], snippet: false, ...over });

describe('front door configuration', () => {
  it('has defaults and TENANTCTL_FRONTDOOR_* overrides', () => {
    const c = config();
    expect(c.frontdoor.baseDomain).toBe('tenants.localhost');
    expect(c.frontdoor.httpPort).toBe(80);
    expect(c.frontdoor.httpsPort).toBe(8443);
    expect(c.frontdoor.rateLimits.starter).toEqual({ requestsPerSecond: 7, burst: 9 });
    expect(c.frontdoor.modulePaths['/api/ai/']).toBe('ai_assistant');
    const bad = loadConfig({ cwd: tempDir('fd-'), env: { TENANTCTL_FRONTDOOR_BASE_DOMAIN: 'Not A Domain', TENANTCTL_FRONTDOOR_REDIRECT_HTTP: 'maybe' } });
    expect(bad.errors).toEqual(expect.arrayContaining([expect.stringMatching(/^frontdoor\.baseDomain \(TENANTCTL_FRONTDOOR_BASE_DOMAIN\)/), expect.stringMatching(/^frontdoor\.redirectHttp/)]));
  });
});

describe('renderFrontdoor', () => {
  it('routes an active tenant to its published port with its plan\'s limit, keys under /api/, and redirects HTTP', () => {
    const c = config();
    const files = renderFrontdoor({ config: c.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 7, tenants: [tenant({ domains: [{ domain: 'crm.acme.com', ownCertificate: true }, { domain: 'www.acme.com', ownCertificate: false }] })] });
    const server = files.get('t/acme/server.conf')!;
    expect(server).toContain('server 127.0.0.1:3001');
    expect(server).toContain('limit_req zone=tenantctl_starter burst=9 nodelay;');
    expect(server).toContain('return 308 https://$host:8443$request_uri;');
    expect(server).toMatch(/server_name acme\.tenants\.localhost www\.acme\.com;/);
    expect(server).toContain('ssl_certificate t/acme/certs/crm.acme.com.crt;');
    expect(files.get('nginx.conf')).toContain('rate=7r/s');
    expect(files.get('nginx.conf')).toContain("return 200 '7\\n';");
    const locations = files.get('locations.conf')!;
    expect(locations).toContain('auth_request /_tenantctl/auth;');
    expect(locations).toMatch(/location = \/api\/health \{\n(?:(?!auth_request).)*?\n\}/s);
    expect(locations).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(locations).toContain('proxy_set_header X-Forwarded-Proto $scheme;');
  });

  it('limits keyless and non-API requests per address before the key check, and keyed ones by plan only after it', () => {
    const files = renderFrontdoor({ config: config().frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant()] });
    const server = files.get('t/acme/server.conf')!;
    const locations = files.get('locations.conf')!;
    const main = files.get('nginx.conf')!;
    // The plan's zone only in @tenantctl_api, reached after auth_request passed (try_files).
    expect(server).toMatch(/location @tenantctl_api \{\n\s+limit_req zone=tenantctl_starter burst=9 nodelay;/);
    expect(locations).toMatch(/location \/api\/ \{\n\s+set \$tenantctl_address_key \$tenantctl_keyless_address;/);
    expect(locations).toContain('try_files /.tenantctl-authenticated @tenantctl_api;');
    expect(locations).toMatch(/location = \/_tenantctl\/auth \{[^}]*set \$tenantctl_address_key "";/s);
    expect(main).toContain('limit_req_zone $tenantctl_address_key zone=tenantctl_address:20m rate=50r/s;');
    // X-Api-Key-Id: the key's id in @tenantctl_api only; removed everywhere else.
    expect(server).toContain('proxy_set_header X-Api-Key-Id $tenantctl_key_id;');
    expect(locations).not.toContain('X-Api-Key-Id $tenantctl_key_id');
    expect(locations).toContain('proxy_set_header X-Api-Key-Id "";');
    // TLS profile, HSTS, canonical paths.
    expect(main).toContain('ssl_protocols TLSv1.2 TLSv1.3;');
    expect(main).not.toMatch(/ssl_ciphers [^;]*(CBC|-SHA;|-SHA:|AES128-SHA256|AES256-SHA384)/);
    expect(main).toContain('ssl_stapling on;');
    expect(main).toContain('"max-age=31536000; includeSubDomains"');
    expect(locations).toMatch(/^if \(\$tenantctl_noncanonical\) \{\n\s+return 400/m);
  });

  it('buffers the usage lines into one file the rotator renames, keeps verdict files open, and waits on no cache lock', () => {
    const files = renderFrontdoor({ config: config().frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant()] });
    expect(files.get('nginx.conf')).toContain('access_log /var/log/tenantctl-usage/usage.log tenantctl_usage buffer=64k flush=1s if=$tenantctl_key_id;');
    // The answer's status rides along (quoted: nginx may log "000"), for the gateway's 4xx/5xx counts.
    expect(files.get('nginx.conf')).toMatch(/log_format tenantctl_usage escape=json '\{.*"uri":"\$request_uri","status":"\$status"\}';/);
    expect(files.get('nginx.conf')).toContain('"time":"$time_iso8601"');
    // The rotator (images/nginx/frontdoor-nginx) reads the master's pid from this file.
    expect(files.get('nginx.conf')).toContain('pid /run/nginx.pid;');
    const locations = files.get('locations.conf')!;
    expect(locations).toContain('open_file_cache max=2000 inactive=20s;');
    expect(files.get('nginx.conf')).toMatch(/^worker_rlimit_nofile 32768;$/m);
    expect(locations).toContain('proxy_cache_lock off;');
  });

  it('gives nginx half the host\'s cores by default, at least one; "auto" and a number as they are', () => {
    expect(nginxWorkers('half', 1)).toBe(1);
    expect(nginxWorkers('half', 2)).toBe(1);
    expect(nginxWorkers('half', 8)).toBe(4);
    expect(nginxWorkers('auto', 8)).toBe('auto');
    expect(nginxWorkers(3, 8)).toBe(3);
    expect(config().frontdoor.workerProcesses).toBe('half');
    const nginxConf = (cores: number) => renderFrontdoor({ config: config().frontdoor, upstreamAddress: '127.0.0.1', hostCores: cores, generation: 1, tenants: [] }).get('nginx.conf')!;
    expect(nginxConf(2)).toMatch(/^worker_processes 1;$/m);
    expect(nginxConf(16)).toMatch(/^worker_processes 8;$/m);
  });

  it('dials the app container directly when its address is known, with the published port as the backup', () => {
    const c = config();
    const direct = renderFrontdoor({ config: c.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant({ appContainer: { address: '10.123.0.5', port: 3000 } })] }).get('t/acme/server.conf')!;
    expect(direct).toMatch(/upstream tenantctl_app_acme \{\n(?:.*\n)*?    server 10\.123\.0\.5:3000 max_fails=1 fail_timeout=30s;\n    server 127\.0\.0\.1:3001 backup max_fails=0;\n    keepalive 32;\n(?:.*\n)?    keepalive_timeout 1s;/);
    const published = renderFrontdoor({ config: c.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant()] }).get('t/acme/server.conf')!;
    expect(published).toContain('server 127.0.0.1:3001 max_fails=0;');
    expect(published).not.toContain('backup');
  });

  it('dials a tenant on another Docker host of the fleet at that host\'s address and its published port', () => {
    const c = config();
    const files = renderFrontdoor({ config: c.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant({ publishedAddress: '172.30.0.7' }), tenant({ id: 'local-one' })] });
    expect(files.get('t/acme/server.conf')).toContain('server 172.30.0.7:3001 max_fails=0;');
    expect(files.get('t/acme/server.conf')).not.toContain('127.0.0.1:3001');
    expect(files.get('t/local-one/server.conf')).toContain('server 127.0.0.1:3001 max_fails=0;');
  });

  it('passes a template\'s public API paths without the key check, each once, and only those', () => {
    const c = config();
    const server = renderFrontdoor({ config: c.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant({ publicPaths: ['/api/notes', '/api/notes'] })] }).get('t/acme/server.conf')!;
    const blocks = server.split('location ^~ /api/notes {').slice(1);
    // Twice: the https server and the http one only when HTTP is not redirected.
    expect(blocks.length).toBe(c.frontdoor.redirectHttp ? 1 : 2);
    const block = blocks[0]!.slice(0, blocks[0]!.indexOf('\n    }'));
    expect(block).toContain('proxy_pass http://tenantctl_app_acme;');
    expect(block).not.toContain('auth_request');
    const plain = renderFrontdoor({ config: c.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant()] }).get('t/acme/server.conf')!;
    expect(plain).not.toContain('location ^~');
  });

  it('shows a stopped or failed tenant as a 503 page and leaves a deprovisioned one out (404)', () => {
    const c = config();
    const files = renderFrontdoor({ config: c.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [tenant({ id: 'stopped-one', status: 'stopped' }), tenant({ id: 'gone', status: 'deprovisioned' })] });
    expect(files.get('t/stopped-one/server.conf')).toMatch(/return 503 '.*stopped-one is stopped/);
    expect(files.has('t/gone/server.conf')).toBe(false);
    expect(routeKind({ status: 'failed', appPort: null })).toBe('unavailable');
  });
});

describe('domains, certificates and nginx -t output', () => {
  it('accepts DNS names and refuses the rest and names under the base domain', () => {
    expect(parseDomain(' CRM.Acme.com ', 'tenants.localhost')).toBe('crm.acme.com');
    for (const bad of ['acme', 'https://acme.com', 'acme.com:443', '*.acme.com', 'a..b.com', 'x.tenants.localhost', 'tenants.localhost', 'acme.com;include /etc/passwd']) {
      expect(() => parseDomain(bad, 'tenants.localhost'), bad).toThrow();
    }
  });

  it('matches one-label wildcards only', () => {
    expect(coversHost(['*.tenants.localhost'], 'acme.tenants.localhost')).toBe(true);
    expect(coversHost(['*.tenants.localhost'], 'a.b.tenants.localhost')).toBe(false);
    expect(coversHost(['crm.acme.com'], 'crm.acme.com')).toBe(true);
  });

  it('pins an nginx -t error on the tenant whose folder it names', () => {
    const line = 'nginx: [emerg] unknown directive "nope" in /etc/tenantctl/gen-000012/t/acme-2/snippet.conf:1';
    expect(tenantOfError(['nginx: configuration file test failed', line])).toBe('acme-2');
    expect(tenantOfError(['nginx: [emerg] bind() failed'])).toBeUndefined();
    // A bad or missing ACME certificate (shared by every generation) is the tenant's that serves that name.
    const tenants = [{ id: 'other', acmeNames: ['other.example.com'] }, { id: 'acme-3', acmeNames: ['acme-3.example.com', 'shop.example.net'] }];
    expect(tenantOfError(['nginx: [emerg] cannot load certificate "/var/lib/tenantctl-acme-certs/shop.example.net.pem": PEM_read_bio_X509_AUX() failed (SSL: error:0480006C:PEM routines::no start line)'], tenants)).toBe('acme-3');
    expect(tenantOfError(['nginx: [emerg] SSL_CTX_use_PrivateKey("/var/lib/tenantctl-acme-certs/other.example.com.pem") failed (SSL: error:05800074:x509 certificate routines::key values mismatch)'], tenants)).toBe('other');
    expect(tenantOfError(['nginx: [emerg] cannot load certificate "/var/lib/tenantctl-acme-certs/gone.example.org.pem": BIO_new_file() failed'], tenants)).toBeUndefined();
    expect(nginxReason('nginx: 2026/01/02 03:04:05 [emerg] 12#12: unknown directive "nope" in /etc/tenantctl/gen-000012/t/acme/snippet.conf:1'))
      .toBe('unknown directive "nope" in t/acme/snippet.conf:1');
  });
});

describe('renderSnippet: the operator\'s locations get the door\'s headers first', () => {
  it('includes proxy-headers.conf at the top of every location, nested and named ones too; other text unchanged', () => {
    const text = '# my location / { in a comment\nset $x 1;\nlocation /a/ {\n    proxy_set_header X-Mine 1;\n    location ~ \\.json$ { proxy_pass http://$tenantctl_upstream; }\n}\nlocation @b{return 204;}\n';
    const out = renderSnippet(text);
    expect(out.match(/include proxy-headers\.conf;/g)).toHaveLength(4);
    expect(out).toContain('location /a/ { include proxy-headers.conf;\n    proxy_set_header X-Mine 1;');
    expect(out).toContain('location ~ \\.json$ { include proxy-headers.conf; proxy_pass');
    expect(out).toContain('location @b{ include proxy-headers.conf;return 204;}');
    expect(out.replaceAll(' include proxy-headers.conf;', '')).toBe(text);
  });

  it('proxy-headers.conf clears what a client could spoof: no key id, the peer address, the door\'s request id', () => {
    const conf = renderFrontdoor({ config: config().frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants: [] }).get('proxy-headers.conf')!;
    expect(conf).toContain('proxy_set_header X-Api-Key-Id "";');
    expect(conf).toContain('proxy_set_header X-Forwarded-For $remote_addr;');
    expect(conf).toContain('proxy_set_header X-Real-IP $remote_addr;');
    expect(conf).toContain('proxy_set_header X-Request-Id $tenantctl_request_id;');
    expect(conf).toContain('proxy_set_header X-Forwarded-Scheme $scheme;');
    for (const header of ['Forwarded', 'X-Forwarded-Prefix', 'X-Forwarded-Ssl', 'X-Original-URL', 'X-Rewrite-URL', 'True-Client-IP', 'X-Client-IP']) {
      expect(conf).toContain(`proxy_set_header ${header} "";`);
    }
    expect(conf).not.toMatch(/proxy_pass|add_header/);
  });
});

describe('an ACME door\'s compose file', () => {
  it('is rewritten by a sync only when it does not mount the certificates folder (a door of an older tenantctl), not for any other difference', async () => {
    const c = config();
    const dir = tempDir('fd-compose-');
    const layout = { composeFile: path.join(dir, 'docker-compose.yml'), confDir: path.join(dir, 'conf'), acmeChallengesDir: path.join(dir, 'acme', 'challenges'), acmeCertsDir: path.join(dir, 'acme', 'certs'), gatewayConfig: path.join(dir, 'gateway.json') } as FrontdoorLayout;
    expect(mountsAcmeCerts(undefined)).toBe(false);
    await writeComposeFile(c, layout, { acme: false });
    expect(mountsAcmeCerts(readFileSync(layout.composeFile, 'utf8'))).toBe(false);
    await writeComposeFile(c, layout, { acme: true });
    const text = readFileSync(layout.composeFile, 'utf8');
    expect(mountsAcmeCerts(text)).toBe(true);
    // Another images setting makes a different file, which the sync leaves to frontdoor init.
    expect(mountsAcmeCerts(text.replace(c.frontdoor.images.nginx, 'registry.example/nginx:other'))).toBe(true);
  });
});
