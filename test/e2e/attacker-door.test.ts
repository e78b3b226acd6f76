// The front door against a stranger (review 2026-12-05 items 11-14, issue 21), on the real nginx,
// the real gateway and a real tenant: each defence tried and refused.
//  - least privilege: the gateway's database login is not a superuser and cannot read sealed
//    secrets or mint keys; its usage write drops a line naming another tenant's key;
//  - rate limits a stranger cannot spend: keyless floods hit their own address's limit (429 with
//    Retry-After), keyed requests of a starter tenant pass meanwhile;
//  - canonical paths: /API/, //api, %61pi, /api/../ refused (400); /api/AI/ gated like /api/ai/;
//    a client-sent X-Api-Key-Id (or X-Forwarded-For, X-Real-IP) never reaches the app as sent, on a
//    keyless path, a keyed one or an operator's snippet location (the app echoes what it received);
//  - TLS: 1.1 and CBC suites refused, HSTS on the base domain;
//  - the local CA: name-constrained to the base domain; a custom domain without its own
//    certificate refused (exit 2, nothing recorded).
// One front door and one tenant for the whole file (beforeAll).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createHarness, useOwnFrontdoor, type Harness } from './harness.js';
import { writeUsage } from '../../apps/gateway/usage-sql.js';

let h: Harness;
let ports: { http: number; https: number };
let ca: string;
let key: string;
let keyId: string;
const base = 'tenants.localhost';
const host = `acme.${base}`;

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One HTTPS request through the door, the path sent exactly as given (no client-side normalisation). */
function request(urlPath: string, headers: Record<string, string> = {}, agent?: https.Agent, localAddress?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = https.get({ host: '127.0.0.1', port: ports.https, path: urlPath, servername: host, ca: readFileSync(ca), agent: agent ?? false, localAddress, headers: { host, ...headers } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    r.setTimeout(10_000, () => r.destroy(new Error(`no answer to ${urlPath} within 10 s`)));
    r.on('error', reject);
  });
}

const withKey = () => ({ authorization: `Bearer ${key}` });

/** openssl s_client against the door with the given options; true when a handshake completed. */
async function handshake(options: string[]): Promise<boolean> {
  const result = await execa('openssl', ['s_client', '-connect', `127.0.0.1:${ports.https}`, '-servername', host, '-CAfile', ca, ...options], { input: '', reject: false, timeout: 15_000 });
  return result.exitCode === 0 && /Cipher is (?!\(NONE\))/.test(String(result.stdout));
}

/**
 * The app this file runs: built from this checkout's bundle (dist/app, npm run build) under a tag
 * of its own, so the headers /whoami echoes are this branch's whatever tenantctl/app:latest holds.
 */
const appImage = 'tenantctl/app:e2e-attacker';

beforeAll(async () => {
  await execa('docker', ['build', '-q', '--build-arg', 'NODE_IMAGE=tenantctl/node:bookworm', '-f', 'Dockerfile.multitenant', '-t', appImage, '--label', 'tenantctl.e2e=attacker', '.'], { cwd: path.join(import.meta.dirname, '..', '..') });
  h = await createHarness('attacker', { TENANTCTL_APP_IMAGE: appImage });
  ports = await useOwnFrontdoor(h, { TENANTCTL_FRONTDOOR_RATE_PER_ADDRESS: '10/20' });
  ca = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'tls', 'ca.crt');
  const provision = await h.cli(['provision', 'acme', '--plan', 'starter', '--json']);
  if (provision.exitCode !== 0) throw new Error(`provision failed:\n${provision.why}`);
  key = provision.json().initialApiKey.key;
  keyId = provision.json().initialApiKey.id;
  const init = await h.cli(['frontdoor', 'init', '--self-signed', '--json']);
  if (init.exitCode !== 0) throw new Error(`frontdoor init failed:\n${init.why}`);
}, 300_000);

afterAll(async () => {
  await h?.cli(['frontdoor', 'down']);
  await h?.cleanup();
  await execa('docker', ['image', 'rm', '-f', appImage], { reject: false });
}, 120_000);

describe('least privilege: the admin database\'s password', () => {
  it('reaches its container as a 0600 file (a compose secret), not in its environment: docker inspect shows no password', async () => {
    const password = /TENANTCTL_ADMIN_DB_PASSWORD=(\S+)/.exec(readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'admin-db.env'), 'utf8'))![1]!;
    const container = (await execa('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${h.env.TENANTCTL_ADMIN_PROJECT}`, '--filter', 'label=tenantctl.role=admin-db'])).stdout.trim();
    expect(container).not.toBe('');
    const inspect = (await execa('docker', ['inspect', container])).stdout;
    expect(inspect).not.toContain(password);
    const env: string[] = JSON.parse(inspect)[0].Config.Env;
    expect(env).toContain('POSTGRES_PASSWORD_FILE=/run/secrets/admin_db_password');
    expect(env.some((e) => e.startsWith('POSTGRES_PASSWORD='))).toBe(false);
    expect(statSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'admin-db.password')).mode & 0o777).toBe(0o600);
  });
});

describe('least privilege: the gateway\'s database login', () => {
  it('is tenantctl_gateway, not a superuser, cannot read sealed secrets or mint keys, and counts usage only for the key\'s own tenant', async () => {
    const frontdoorDir = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor');
    const { databaseUrl } = JSON.parse(readFileSync(path.join(frontdoorDir, 'gateway.json'), 'utf8'));
    expect(statSync(path.join(frontdoorDir, 'gateway.json')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'gateway-db.env')).mode & 0o777).toBe(0o600);
    expect(new URL(databaseUrl).username).toBe('tenantctl_gateway');
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const [role] = (await client.query('SELECT current_user AS name, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user')).rows;
      expect(role).toEqual({ name: 'tenantctl_gateway', rolsuper: false, rolcreaterole: false, rolcreatedb: false });
      // What it needs: key verdicts.
      expect((await client.query('SELECT k.id FROM admin_api_keys k JOIN admin_customers c ON c.id = k.customer_id WHERE c.status = $1', ['active'])).rowCount).toBeGreaterThan(0);
      const denied = async (sql: string) => (await client.query(sql).then(() => 'allowed', (e: any) => e.code));
      expect(await denied('SELECT secrets_ciphertext FROM admin_customers')).toBe('42501');
      expect(await denied('SELECT * FROM admin_customers')).toBe('42501');
      expect(await denied("INSERT INTO admin_api_keys (customer_id, key_hash, prefix, name) VALUES ('acme', repeat('0', 64), 'tk_live_x', 'minted')")).toBe('42501');
      expect(await denied("UPDATE admin_api_keys SET revoked_at = NULL")).toBe('42501');
      expect(await denied("UPDATE admin_customers SET status = 'active'")).toBe('42501');
      expect(await denied("COPY (SELECT 1) TO PROGRAM 'true'")).toBe('42501');
    } finally {
      await client.end();
    }
    // Item 18: the gateway's usage write, run as the gateway's role, counts a line only for the
    // tenant its key belongs to (apps/gateway/usage-sql.ts).
    await h.adminQuery("INSERT INTO admin_customers (id, name, status, host, compose_project) VALUES ('rival', 'Rival', 'active', 'nowhere', 'none')");
    const [rival] = await h.adminQuery("INSERT INTO admin_api_keys (customer_id, name, prefix, key_hash) VALUES ('rival', 'k', 'tk_live_r', repeat('a', 64)) RETURNING id");
    const [own] = await h.adminQuery("SELECT id FROM admin_api_keys WHERE customer_id = 'acme' LIMIT 1");
    const writer = new pg.Client({ connectionString: databaseUrl });
    await writer.connect();
    try {
      const periodStart = new Date().toISOString();
      await writeUsage(writer, [
        { customerId: 'acme', keyId: rival.id, endpoint: '/api/spoofed', count: 5, responses4xx: 0, responses5xx: 0, periodStart },
        { customerId: 'acme', keyId: own.id, endpoint: '/api/counted', count: 2, responses4xx: 0, responses5xx: 0, periodStart },
      ]);
    } finally {
      await writer.end();
    }
    const usage = await h.adminQuery("SELECT endpoint, request_count FROM admin_api_usage WHERE endpoint IN ('/api/spoofed', '/api/counted')");
    expect(usage).toEqual([{ endpoint: '/api/counted', request_count: 2 }]);
    expect((await h.adminQuery('SELECT last_used_at FROM admin_api_keys WHERE id = $1', [rival.id]))[0].last_used_at).toBeNull();
    await h.adminQuery("DELETE FROM admin_customers WHERE id = 'rival'");
    // The gateway's process has no database URL in its environment or on its command line.
    const inspected = JSON.parse((await execa('docker', ['inspect', `${h.prefix}fd-gateway`])).stdout)[0];
    expect(JSON.stringify([inspected.Config.Env, inspected.Config.Cmd, inspected.Args])).not.toMatch(/postgres(ql)?:\/\//);
    // Usage files live in a Docker volume, not a host folder that the host's uid 33 could write into.
    expect(inspected.Mounts.find((m: any) => m.Destination === '/var/log/tenantctl-usage')?.Type).toBe('volume');
    expect(existsSync(path.join(frontdoorDir, 'usage'))).toBe(false);
  });
});

describe('rate limits a stranger cannot spend', () => {
  it('keyless floods from one address get 429 with Retry-After; a starter tenant\'s keyed requests pass meanwhile', async () => {
    // Review item 12: two keyless loops made 18 of 20 keyed requests of a starter tenant answer 429.
    const stopAt = Date.now() + 3_000;
    const flood = async () => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      const seen: { status: number; retryAfter?: string }[] = [];
      while (Date.now() < stopAt) {
        const r = await request('/api/ping', {}, agent);
        seen.push({ status: r.status, retryAfter: r.headers['retry-after'] as string | undefined });
      }
      agent.destroy();
      return seen;
    };
    const keyed = async () => {
      const statuses: number[] = [];
      await new Promise((r) => setTimeout(r, 500)); // the floods are under way
      for (let i = 0; i < 20; i++) {
        statuses.push((await request('/api/ping', withKey())).status);
        await new Promise((r) => setTimeout(r, 100)); // 10/s: under the starter plan's 20/s
      }
      return statuses;
    };
    const [a, b, mine] = await Promise.all([flood(), flood(), keyed()]);
    const strangers = [...a, ...b];
    console.log(`keyless: ${strangers.length} requests, ${strangers.filter((s) => s.status === 429).length} answered 429; keyed: ${mine.filter((s) => s === 429).length} of ${mine.length} answered 429`);
    expect(mine).toEqual(Array(20).fill(200));
    expect(strangers.filter((s) => s.status === 429).length).toBeGreaterThan(0);
    expect(strangers.filter((s) => s.status === 429).every((s) => s.retryAfter === '1')).toBe(true);
    expect(new Set(strangers.map((s) => s.status))).toEqual(new Set([401, 429]));
  }, 30_000);

  it('made-up well-formed keys cost the gateway a few lookups per second per address, then 429 with Retry-After; a known key passes meanwhile', async () => {
    // Review of 2026-12-06: a random tk_live_ key escaped every limit, each one a database query.
    await new Promise((r) => setTimeout(r, 2_500));
    const stopAt = Date.now() + 3_000;
    const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
    const madeUp: { status: number; retryAfter?: string }[] = [];
    const flood = async () => {
      while (Date.now() < stopAt) {
        const fake = `tk_live_${Array.from({ length: 32 }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(Math.random() * 36)]).join('')}`;
        const r = await request('/api/ping', { authorization: `Bearer ${fake}` }, agent);
        madeUp.push({ status: r.status, retryAfter: r.headers['retry-after'] as string | undefined });
      }
    };
    // The tenant's own client, at another address (127.0.0.2: the throttle is per address; a known
    // key whose verdict expired from the caches is looked up again like any other).
    const keyed = async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 200));
        statuses.push((await request('/api/ping', withKey(), undefined, '127.0.0.2')).status);
      }
      return statuses;
    };
    const [, , mine] = await Promise.all([flood(), flood(), keyed()]);
    agent.destroy();
    const throttled = madeUp.filter((r) => r.status === 429);
    console.log(`made-up keys: ${madeUp.length} requests, ${madeUp.filter((r) => r.status === 401).length} looked up (401), ${throttled.length} answered 429`);
    expect(mine).toEqual(Array(10).fill(200));
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled.every((r) => r.retryAfter === '1')).toBe(true);
    // At most the gateway's 10 lookups per second (and a burst at a second's edge) were database queries.
    expect(madeUp.filter((r) => r.status === 401).length).toBeLessThanOrEqual(10 * 4 + 10);
    expect(new Set(madeUp.map((r) => r.status))).toEqual(new Set([401, 429]));
  }, 30_000);

  it('still limits the tenant\'s keyed requests by its plan (starter: 20/s, burst 40), with Retry-After', async () => {
    await new Promise((r) => setTimeout(r, 2_500)); // the plan's bucket refills after the last test
    const answers = await Promise.all(Array.from({ length: 90 }, () => request('/api/ping', withKey())));
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.filter((r) => r.status === 200).length).toBeGreaterThan(0);
    expect(limited.every((r) => r.headers['retry-after'] === '1')).toBe(true);
  });
});

describe('canonical paths', () => {
  it('refuses paths an app could route differently from the door (400)', async () => {
    await new Promise((r) => setTimeout(r, 2_500)); // the address's bucket refills after the floods
    for (const p of ['/API/ping', '/Api/ping', '//api/ping', '/api//ping', '/%61pi/ping', '/api/%70ing', '/api/../api/ping', '/api/./ping', '/x/..', '/api/%2e%2e/ping', '/api%2Fping', '/api\\ping', '/api\\ws', '/api/ai\\summaries', '/api;/ping', '/x/..;/api/ping', '/api/%2570ing', '/api/a%3Bb']) {
      const r = await request(p, withKey());
      expect(r.status, p).toBe(400);
    }
    // The canonical forms pass.
    expect((await request('/api/ping', withKey())).status).toBe(200);
    expect((await request('/api/ping?q=%2F..%2F', withKey())).status).toBe(200);
  });

  it('gates a module\'s path in any case (/api/AI/ is the ai module\'s)', async () => {
    const r = await request('/api/AI/summaries', withKey());
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).module).toBe('ai_assistant');
  });

  it('never forwards a client\'s X-Api-Key-Id: every proxying location sets it, to the key\'s id only after the key check', async () => {
    const live = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'conf', 'live');
    const files = [path.join(live, 'locations.conf'), ...readdirSync(path.join(live, 't')).map((t) => path.join(live, 't', t, 'server.conf'))].filter(existsSync);
    const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    // Each location's text runs to the next location: enough to find its proxy_pass and headers.
    const blocks = text.split(/\n\s*location\s+/).slice(1);
    // To the tenant's app: by $tenantctl_upstream in the shared locations, by the upstream's own name in a tenant's server.conf.
    const proxying = blocks.filter((b) => /proxy_pass http:\/\/(?!tenantctl_gateway)\S+;/.test(b));
    expect(proxying.length).toBeGreaterThan(3);
    for (const b of proxying) {
      const name = b.split('{')[0]!.trim();
      const set = /proxy_set_header X-Api-Key-Id (\S+);/.exec(b)?.[1];
      expect(set, name).toBe(name === '@tenantctl_api' ? '$tenantctl_key_id' : '""');
    }
    // And a spoofed header on a keyless path is just one more request (no error, no key id).
    expect((await request('/api/health', { 'x-api-key-id': '00000000-0000-0000-0000-000000000000' })).status).toBe(200);
  });

  // What the app itself receives (the reference app's /whoami echoes the door's headers), with
  // spoofed values of every header the door sets: on a keyless path, on a keyed one, and in a
  // location of the operator's snippet that sets a header of its own (which in nginx inherits none
  // of the server's proxy_set_header: the door includes its headers into each snippet location).
  const spoofed = {
    'x-api-key-id': '00000000-0000-0000-0000-000000000000', 'x-real-ip': '203.0.113.9', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-host': 'evil.example',
    // What frameworks trust for the client's address, scheme or path (Express, Rails, Symfony, IIS rewrites, CDNs).
    forwarded: 'for=203.0.113.9;proto=http', 'x-forwarded-prefix': '/admin', 'x-forwarded-scheme': 'http', 'x-forwarded-ssl': 'off',
    'x-original-url': '/admin', 'x-rewrite-url': '/admin', 'true-client-ip': '203.0.113.9', 'x-client-ip': '203.0.113.9',
  };
  const received = async (urlPath: string, headers: Record<string, string> = {}) => {
    const r = await request(urlPath, { ...spoofed, ...headers });
    expect(r.status, `${urlPath}: ${r.body}`).toBe(200);
    const answer = JSON.parse(r.body);
    expect(answer.customer).toBe('acme');
    // The request id the app got is the one the door answered with.
    expect(answer.headers['x-request-id']).toBe(r.headers['x-request-id']);
    return answer.headers as Record<string, string | null>;
  };
  const expectDoorValues = (seen: Record<string, string | null>, apiKeyId: string | null) => {
    expect(seen['x-api-key-id']).toBe(apiKeyId);
    expect(seen['x-real-ip']).toBe('127.0.0.1');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-host']).toBe(host);
    expect(seen['x-forwarded-scheme']).toBe('https');
    for (const cleared of ['forwarded', 'x-forwarded-prefix', 'x-forwarded-ssl', 'x-original-url', 'x-rewrite-url', 'true-client-ip', 'x-client-ip']) {
      expect(seen[cleared], cleared).toBeNull();
    }
  };

  it('a spoofed X-Api-Key-Id (and X-Forwarded-*, X-Real-IP, Forwarded, X-Original-URL, True-Client-IP, ...) never reaches the app: keyless, keyed and snippet locations', async () => {
    expectDoorValues(await received('/whoami'), null);
    expectDoorValues(await received('/api/whoami', withKey()), keyId);

    const snippet = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'snippets', 'acme.conf');
    writeFileSync(snippet, '# The operator\'s own location, with a header of its own.\nlocation /from-snippet/ {\n    proxy_set_header X-Operator yes;\n    proxy_pass http://$tenantctl_upstream/whoami;\n}\n');
    try {
      const reload = await h.cli(['frontdoor', 'reload', '--json']);
      expect(reload.exitCode, reload.why).toBe(0);
      expect(reload.json().refused ?? []).toEqual([]);
      expectDoorValues(await received('/from-snippet/x'), null);
    } finally {
      rmSync(snippet);
      const back = await h.cli(['frontdoor', 'reload']);
      expect(back.exitCode, back.why).toBe(0);
    }
  });
});

describe('TLS like a public site', () => {
  it('refuses TLS 1.1 and CBC suites; TLS 1.2 with AES-GCM and TLS 1.3 pass', async () => {
    // SECLEVEL=0 so that it is the door, not this machine's openssl, that refuses.
    expect(await handshake(['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'])).toBe(false);
    expect(await handshake(['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA@SECLEVEL=0'])).toBe(false);
    expect(await handshake(['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'])).toBe(true);
    expect(await handshake(['-tls1_3'])).toBe(true);
  });

  it('sends HSTS for the base domain\'s names', async () => {
    const r = await request('/api/health');
    expect(r.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const keyless = await request('/api/ping');
    expect(keyless.status).toBe(401);
    expect(keyless.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });
});

describe('the local development CA', () => {
  it('is name-constrained to the base domain: a certificate it signs for another name does not verify', async () => {
    const text = (await execa('openssl', ['x509', '-in', ca, '-noout', '-text'])).stdout;
    expect(text).toMatch(/X509v3 Name Constraints: critical\s+Permitted:\s+DNS:\.tenants\.localhost\s+DNS:tenants\.localhost/);
    // Signed with the CA's own key (as an attacker holding it would): outside the base domain, refused by every verifier.
    const dir = mkdtempSync(path.join(tmpdir(), 'attacker-ca-'));
    const caKey = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'tls', 'ca.key');
    const sign = async (name: string) => {
      await execa('openssl', ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-subj', `/CN=${name}`, '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.csr`)]);
      await execa('bash', ['-c', `openssl x509 -req -in "$1.csr" -CA "$2" -CAkey "$3" -set_serial 7 -days 1 -extfile <(printf 'subjectAltName=DNS:%s\\n' "$1") -out "$1.crt"`, '_', name, ca, caKey], { cwd: dir });
      return execa('openssl', ['verify', '-CAfile', ca, path.join(dir, `${name}.crt`)], { reject: false });
    };
    const foreign = await sign('www.example-bank.com');
    expect(foreign.exitCode).not.toBe(0);
    expect(String(foreign.stdout) + String(foreign.stderr)).toMatch(/permitted subtree violation/);
    expect((await sign(`x.${base}`)).exitCode).toBe(0);
    // Nor for an IP address (name constraints exclude every IPv4 and IPv6 address).
    await execa('openssl', ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-subj', '/CN=ip', '-keyout', path.join(dir, 'ip.key'), '-out', path.join(dir, 'ip.csr')]);
    await execa('bash', ['-c', `openssl x509 -req -in ip.csr -CA "$1" -CAkey "$2" -set_serial 8 -days 1 -extfile <(printf 'subjectAltName=IP:1.1.1.1\\nextendedKeyUsage=serverAuth\\n') -out ip.crt`, '_', ca, caKey], { cwd: dir });
    const ip = await execa('openssl', ['verify', '-CAfile', ca, '-verify_ip', '1.1.1.1', path.join(dir, 'ip.crt')], { reject: false });
    expect(ip.exitCode, String(ip.stdout) + String(ip.stderr)).not.toBe(0);
    expect(text).toMatch(/Excluded:\s+IP:0\.0\.0\.0\/0\.0\.0\.0/);
  });

  it('never signs a custom domain: `domains add` without --cert is exit 2 with one line, and nothing is recorded', async () => {
    const r = await h.cli(['domains', 'add', 'acme', 'www.example-bank.com']);
    expect(r.exitCode, r.why).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('tenantctl:'))).toHaveLength(1);
    expect(r.stderr).toMatch(/www\.example-bank\.com needs its own certificate/);
    expect((await h.cli(['domains', 'list', '--json'])).json().domains).toEqual([]);
    expect(readdirSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'domains'))).toEqual([]);
  });
});
