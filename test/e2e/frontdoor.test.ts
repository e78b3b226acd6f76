// The front door end to end, with the real nginx (tenantctl/nginx) and gateway (tenantctl/gateway)
// and curl --resolve: two tenants at their own host names over TLS verified with the local CA,
// unknown hosts, stopped tenants, API keys at the door (none, another tenant's, revoked), module
// gating, usage counted in the admin database, custom domains, rate limits, a broken candidate
// configuration refused while the old one keeps serving, and the gateway down (closed, not open).
// High ports from get-port, its own compose project (<prefix>fd: removed with the prefix).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createHarness, useOwnFrontdoor, type Harness } from './harness.js';
import { acceptKey, decodeFrames, encodeFrame, opcodes } from '../../apps/tenant-app/websocket-frames.js';

const root = path.resolve(import.meta.dirname, '..', '..');
// This worktree's gateway (dist/gateway, npm run build) in a tag of this file's own: the usage it
// counts is this tree's, and the shared tenantctl/gateway:latest is left to whoever else is testing.
const gatewayImage = 'tenantctl-e2e-frontdoor/gateway:test';
let h: Harness;
let ports: { http: number; https: number };
let ca: string;
const keys: Record<string, string> = {};
const base = 'tenants.localhost';

const ok = async (args: string[]) => {
  const result = await h.cli(args);
  expect(result.exitCode, result.why).toBe(0);
  return result;
};

interface Answer { status: number; body: string; headers: string }

/** curl through the front door: the name resolved to loopback with --resolve, TLS verified with the local CA. */
async function door(host: string, urlPath: string, options: { headers?: Record<string, string>; http?: boolean; ca?: string } = {}): Promise<Answer> {
  const port = options.http ? ports.http : ports.https;
  const url = `${options.http ? 'http' : 'https'}://${host}:${port}${urlPath}`;
  const headerArgs = Object.entries(options.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const result = await execa('curl', ['-sS', '--max-time', '10', '--cacert', options.ca ?? ca, '--resolve', `${host}:${port}:127.0.0.1`, '-D', '-', ...headerArgs, url], { reject: false });
  if (result.exitCode !== 0) throw new Error(`curl ${url}: exit ${result.exitCode}: ${result.stderr}`);
  const [headers, ...rest] = String(result.stdout).split(/\r?\n\r?\n/);
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers!)![1]), body: rest.join('\n\n'), headers: headers! };
}

const withKey = (key: string) => ({ authorization: `Bearer ${key}` });

interface WebSocketSession { status: number; accepted?: boolean; messages: any[]; closeCode?: number }

/**
 * A WebSocket session through the door over TLS (verified with the local CA, the host name resolved
 * to loopback): upgrade GET `urlPath`, read the greeting, send `say` (masked, as a client must), read
 * the echo, close. A refused upgrade resolves with its HTTP status.
 */
function webSocketThroughDoor(host: string, urlPath: string, say: string, headers: Record<string, string> = {}): Promise<WebSocketSession> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const request = https.request({
      host: '127.0.0.1', port: ports.https, path: urlPath, servername: host, ca: readFileSync(ca), agent: false,
      headers: { host, upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': key, 'sec-websocket-version': '13', ...headers },
    });
    const timer = setTimeout(() => { request.destroy(); reject(new Error('no WebSocket answer within 10 s')); }, 10_000);
    request.on('response', (response) => { response.resume(); clearTimeout(timer); resolve({ status: response.statusCode!, messages: [] }); });
    request.on('error', (error) => { clearTimeout(timer); reject(error); });
    request.on('upgrade', (response, socket, head) => {
      const session: WebSocketSession = { status: response.statusCode!, accepted: response.headers['sec-websocket-accept'] === acceptKey(key), messages: [] };
      let pending: Buffer = head;
      const sendMasked = (opcode: number, payload: Buffer) => socket.write(encodeFrame(opcode, payload, randomBytes(4)));
      const receive = (chunk: Buffer) => {
        const { frames, rest } = decodeFrames(Buffer.concat([pending, chunk]));
        pending = rest;
        for (const frame of frames) {
          if (frame.opcode === opcodes.close) {
            session.closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined;
            clearTimeout(timer);
            socket.end();
            resolve(session);
            return;
          }
          session.messages.push(JSON.parse(frame.payload.toString('utf8')));
          if (session.messages.length === 1) sendMasked(opcodes.text, Buffer.from(say));
          else sendMasked(opcodes.close, Buffer.from([0x03, 0xe8]));
        }
      };
      socket.on('data', receive);
      socket.on('error', (error) => { clearTimeout(timer); reject(error); });
      receive(Buffer.alloc(0));
    });
    request.end();
  });
}

/** Polls `check` until it holds, at most `ms`; returns how long it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  await execa('docker', ['build', '-q', '--build-arg', 'NODE_IMAGE=tenantctl/node:bookworm', '-f', 'images/gateway/Dockerfile', '-t', gatewayImage, 'dist/gateway'], { cwd: root, timeout: 180_000 });
  h = await createHarness('frontdoor');
  ports = await useOwnFrontdoor(h, {
    TENANTCTL_FRONTDOOR_RATE_STARTER: '5/8',
    TENANTCTL_FRONTDOOR_GATEWAY_IMAGE: gatewayImage,
  });
  ca = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'tls', 'ca.crt');
  // The admin database first (one process starts it), then both tenants at once.
  const list = await h.cli(['list']);
  if (list.exitCode !== 0) throw new Error(`list failed:\n${list.why}`);
  const [acme, globex] = await Promise.all([
    h.cli(['provision', 'acme', '--json']),
    h.cli(['provision', 'globex', '--plan', 'starter', '--json']),
  ]);
  for (const r of [acme, globex]) if (r.exitCode !== 0) throw new Error(`provision failed:\n${r.why}`);
  keys.acme = acme.json().initialApiKey.key;
  keys.globex = globex.json().initialApiKey.key;
  const init = await h.cli(['frontdoor', 'init', '--self-signed', '--json']);
  if (init.exitCode !== 0) throw new Error(`frontdoor init failed:\n${init.why}`);
}, 300_000);

afterAll(async () => {
  await h?.cli(['frontdoor', 'down']);
  await h?.cleanup();
  await execa('docker', ['image', 'rm', gatewayImage], { reject: false });
}, 120_000);

describe('routing', () => {
  it('serves each tenant at <id>.<baseDomain> over TLS verified with the local CA, with a request id', async () => {
    for (const id of ['acme', 'globex']) {
      const r = await door(`${id}.${base}`, '/api/health');
      expect(r.status, r.body).toBe(200);
      expect(JSON.parse(r.body).customer).toBe(id);
      expect(r.headers).toMatch(/x-request-id: [0-9a-f]{32}/i);
    }
    const echoed = await door(`acme.${base}`, '/api/health', { headers: { 'x-request-id': 'trace-42' } });
    expect(echoed.headers).toMatch(/x-request-id: trace-42/i);
    // nginx dials the app container itself (no docker-proxy hop), the published port as its backup.
    const live = readFileSync(path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'conf', 'live', 't', 'acme', 'server.conf'), 'utf8');
    const inspected = await execa('docker', ['ps', '--filter', 'label=tenantctl.tenant=acme', '--filter', `name=${h.prefix}`, '--filter', 'publish=' + /server 127\.0\.0\.1:(\d+) backup max_fails=0;/.exec(live)![1], '--format', '{{.ID}}']);
    const address = (await execa('docker', ['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', inspected.stdout.trim()])).stdout.trim();
    expect(live).toContain(`server ${address}:3000 max_fails=1`);
  });

  it('redirects HTTP to HTTPS, and answers 404 for a host no tenant has', async () => {
    const redirect = await door(`acme.${base}`, '/a?b=1', { http: true });
    expect(redirect.status).toBe(308);
    expect(redirect.headers).toMatch(new RegExp(`location: https://acme\\.${base.replace('.', '\\.')}:${ports.https}/a\\?b=1`, 'i'));
    expect((await door(`nobody.${base}`, '/')).status).toBe(404);
    expect((await door('unknown.example.org', '/', { http: true })).status).toBe(404);
  });

  it('limits authenticated API requests per tenant by plan (starter: 5/s, burst 8 here)', async () => {
    // 30 requests at once from one process (curl processes start too slowly to make a burst).
    const statuses = await Promise.all(Array.from({ length: 30 }, () => new Promise<number>((resolve, reject) => {
      const request = https.get({
        host: '127.0.0.1', port: ports.https, path: '/api/ping', servername: `globex.${base}`, ca: readFileSync(ca),
        headers: { host: `globex.${base}`, ...withKey(keys.globex!) }, agent: false,
      }, (response) => { response.resume(); resolve(response.statusCode!); });
      request.on('error', reject);
    })));
    expect(statuses).toContain(429);
    expect(statuses).toContain(200);
    // The other tenant (standard plan) is not affected.
    expect((await door(`acme.${base}`, '/api/ping', { headers: withKey(keys.acme!) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_500));
  });

  it('passes a WebSocket upgrade through to the tenant\'s app over TLS, with the key check of /api/', async () => {
    const refused = await webSocketThroughDoor(`acme.${base}`, '/api/ws', 'hello');
    expect(refused.status).toBe(401);
    for (const id of ['acme', 'globex']) {
      const session = await webSocketThroughDoor(`${id}.${base}`, '/api/ws', `hello from ${id}`, withKey(keys[id]!));
      expect(session.status).toBe(101);
      expect(session.accepted).toBe(true);
      expect(session.messages).toEqual([{ customer: id, event: 'connected' }, { customer: id, echo: `hello from ${id}` }]);
      expect(session.closeCode).toBe(1000);
    }
  });

  it('shows a stopped tenant as 503 and routes it again once started', async () => {
    await ok(['stop', 'globex']);
    const stopped = await door(`globex.${base}`, '/api/health');
    expect(stopped.status).toBe(503);
    expect(stopped.body).toMatch(/globex is stopped/);
    await ok(['start', 'globex']);
    expect((await door(`globex.${base}`, '/api/health')).status).toBe(200);
  }, 120_000);
});

describe('API keys at the door', () => {
  it('refuses /api/ without a key, with another tenant\'s key or a malformed one (401); health needs none', async () => {
    const none = await door(`acme.${base}`, '/api/contacts');
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body).reason).toMatch(/missing API key/);
    expect((await door(`acme.${base}`, '/api/contacts', { headers: withKey(keys.globex!) })).status).toBe(401);
    expect((await door(`acme.${base}`, '/api/contacts', { headers: { 'x-api-key': 'tk_live_nope' } })).status).toBe(401);
    // The tenant's own key reaches the app (which has no /api/contacts: its own 404).
    const own = await door(`acme.${base}`, '/api/contacts', { headers: { 'x-api-key': keys.acme! } });
    expect(own.status).toBe(404);
    expect(JSON.parse(own.body).path).toBe('/api/contacts');
  });

  it('stops a revoked key within 5 s', async () => {
    const created = (await ok(['keys', 'create', 'acme', '--name', 'short-lived', '--json'])).json();
    expect((await door(`acme.${base}`, '/api/x', { headers: withKey(created.key) })).status).toBe(404);
    await ok(['keys', 'revoke', 'acme', created.id]);
    const took = await within(5_000, async () => (await door(`acme.${base}`, '/api/x', { headers: withKey(created.key) })).status === 401);
    expect(took).toBeLessThanOrEqual(5_000);
    const r = await door(`acme.${base}`, '/api/x', { headers: withKey(created.key) });
    expect(JSON.parse(r.body).reason).toBe('API key revoked');
  });

  it('answers 403 naming the module for a path of a module the tenant does not have, and lets it through once enabled', async () => {
    // A verdict nginx just cached for this key elsewhere under /api/ does not carry over to a module's path.
    expect((await door(`acme.${base}`, '/api/x', { headers: withKey(keys.acme!) })).status).toBe(404);
    expect((await door(`acme.${base}`, '/api/ai', { headers: withKey(keys.acme!) })).status).toBe(403);
    const denied = await door(`acme.${base}`, '/api/ai/summaries', { headers: withKey(keys.acme!) });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body).module).toBe('ai_assistant');
    await ok(['modules', 'enable', 'acme', 'ai_assistant']);
    await within(5_000, async () => (await door(`acme.${base}`, '/api/ai/summaries', { headers: withKey(keys.acme!) })).status === 404);
  });

  it('counts every request that passed into admin_api_usage, per key and endpoint and by answer class, sets last_used_at, and shows the classes in metrics', async () => {
    const sent = 7;
    for (let i = 0; i < sent; i++) expect((await door(`globex.${base}`, `/api/orders/${1000 + i}`, { headers: withKey(keys.globex!) })).status).toBe(404);
    const usage = async () => h.adminQuery(
      `SELECT COALESCE(sum(u.request_count), 0)::int AS n, COALESCE(sum(u.responses_4xx), 0)::int AS r4, COALESCE(sum(u.responses_5xx), 0)::int AS r5
         FROM admin_api_usage u JOIN admin_api_keys k ON k.id = u.api_key_id
        WHERE u.customer_id = 'globex' AND u.endpoint = '/api/orders/:id'`,
    );
    // Counted from nginx's usage lines (most of these were cached verdicts the gateway never saw), once their second is over.
    await within(8_000, async () => (await usage())[0].n >= sent);
    await new Promise((r) => setTimeout(r, 1_500)); // one more flush: nothing counted twice
    // The app answered each 404: the door's line carried the status and the gateway counted the class.
    expect((await usage())[0]).toEqual({ n: sent, r4: sent, r5: 0 });
    const [key] = await h.adminQuery(`SELECT last_used_at FROM admin_api_keys WHERE customer_id = 'globex' AND revoked_at IS NULL`);
    expect(key.last_used_at).not.toBeNull();
    // /metrics: the tenant's classes are the database's sums over all its endpoints.
    const [all] = await h.adminQuery(`SELECT sum(request_count)::int AS n, sum(responses_4xx)::int AS r4, sum(responses_5xx)::int AS r5 FROM admin_api_usage WHERE customer_id = 'globex'`);
    expect(all.r4).toBeGreaterThanOrEqual(sent);
    const metrics = await ok(['metrics']);
    expect(metrics.stdout).toMatch(/^# TYPE tenantctl_api_responses_total counter$/m);
    expect(metrics.stdout).toMatch(new RegExp(`^tenantctl_api_responses_total\\{host="[^"]+",tenant="globex",class="4xx"\\} ${all.r4}$`, 'm'));
    expect(metrics.stdout).toMatch(new RegExp(`^tenantctl_api_responses_total\\{host="[^"]+",tenant="globex",class="5xx"\\} ${all.r5}$`, 'm'));
    expect(metrics.stdout).toMatch(new RegExp(`^tenantctl_api_requests_total\\{host="[^"]+",tenant="globex"\\} ${all.n}$`, 'm'));
  });

  it('loses no usage line that nginx still buffers when its container restarts (the graceful stop writes the buffer out)', async () => {
    const sent = 9;
    for (let i = 0; i < sent; i++) expect((await door(`globex.${base}`, `/api/invoices/${2000 + i}`, { headers: withKey(keys.globex!) })).status).toBe(404);
    // At once: the lines are in nginx's buffer (written at least every second) or in usage.log, not yet renamed.
    await execa('docker', ['restart', `${h.prefix}fd-nginx`]);
    const usage = async () => h.adminQuery(
      `SELECT COALESCE(sum(request_count), 0)::int AS n FROM admin_api_usage WHERE customer_id = 'globex' AND endpoint = '/api/invoices/:id'`,
    );
    await within(10_000, async () => (await usage())[0].n >= sent);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await usage())[0].n).toBe(sent);
    // And nginx counts again after the restart.
    await within(5_000, async () => (await door(`globex.${base}`, '/api/invoices/1', { headers: withKey(keys.globex!) })).status === 404);
    await within(8_000, async () => (await usage())[0].n === sent + 1);
  }, 60_000);

  it('brings a front door set up by an older tenantctl up to date on `frontdoor init` (nginx without the rotator is recreated)', async () => {
    const nginx = `${h.prefix}fd-nginx`;
    const command = async () => JSON.parse((await execa('docker', ['inspect', '--format', '{{json .Config.Cmd}}', nginx])).stdout);
    // The older definition: plain nginx, nothing renames its usage log.
    const composeFile = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'docker-compose.yml');
    const current = readFileSync(composeFile, 'utf8');
    const older = current.replace(/command:\n(\s+- )frontdoor-nginx\n\s+- (\S+)\n\s+- \S+\n/, (_, item, conf) => `command:\n${item}nginx\n${item}-g\n${item}"daemon off;"\n${item}-c\n${item}${conf}\n`);
    expect(older).not.toBe(current);
    writeFileSync(composeFile, older);
    await execa('docker', ['compose', '-p', `${h.prefix}fd`, '-f', composeFile, 'up', '-d', 'nginx']);
    expect((await command())[0]).toBe('nginx');

    await ok(['frontdoor', 'init', '--json']);
    expect(await command()).toEqual(['frontdoor-nginx', '/etc/tenantctl/live/nginx.conf', '/var/log/tenantctl-usage']);
    expect(readFileSync(composeFile, 'utf8')).toBe(current);
    // Counting works through the recreated container.
    const usage = async () => Number((await h.adminQuery(`SELECT COALESCE(sum(request_count), 0)::int AS n FROM admin_api_usage WHERE customer_id = 'acme' AND endpoint = '/api/after-init'`))[0].n);
    expect((await door(`acme.${base}`, '/api/after-init', { headers: withKey(keys.acme!) })).status).toBe(404);
    await within(8_000, async () => (await usage()) === 1);
  }, 90_000);

  it('fails closed: the gateway down is 503 once nginx\'s cached verdict (1 s) expires, never a pass; reload brings it back', async () => {
    expect((await door(`acme.${base}`, '/api/x', { headers: withKey(keys.acme!) })).status).toBe(404);
    await execa('docker', ['stop', `${h.prefix}fd-gateway`]);
    const stopped = Date.now();
    await within(2_000, async () => (await door(`acme.${base}`, '/api/x', { headers: withKey(keys.acme!) })).status === 503);
    expect(Date.now() - stopped).toBeLessThan(2_500);
    // And it stays closed: no stale verdict is served while the gateway is away.
    for (let i = 0; i < 5; i++) expect((await door(`acme.${base}`, '/api/x', { headers: withKey(keys.acme!) })).status).toBe(503);
    // It stopped on its own terms (SIGTERM reached node through tini: last flush, exit 0), not killed
    // half-way through a batch (which counts that batch twice).
    const gateway = JSON.parse((await execa('docker', ['inspect', '--format', '{{json .State}}', `${h.prefix}fd-gateway`])).stdout);
    expect(gateway.ExitCode).toBe(0);
    expect((await execa('docker', ['logs', `${h.prefix}fd-gateway`], { all: true })).all).not.toMatch(/forwarding signal/);
    const status = (await h.cli(['frontdoor', 'status', '--json'])).json();
    expect(status.healthy).toBe(false);
    await ok(['frontdoor', 'reload']);
    expect((await door(`acme.${base}`, '/api/x', { headers: withKey(keys.acme!) })).status).toBe(404);
  }, 60_000);
});

describe('custom domains', () => {
  it('routes a custom domain with its own certificate (never one from the local CA); a domain belongs to one tenant', async () => {
    const refused = await h.cli(['domains', 'add', 'acme', 'crm.acme-corp.test']);
    expect(refused.exitCode, refused.why).toBe(2);
    expect(refused.stderr).toMatch(/needs its own certificate/);
    const own = { cert: path.join(h.dir, 'crm.crt'), key: path.join(h.dir, 'crm.key') };
    await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=crm.acme-corp.test', '-addext', 'subjectAltName=DNS:crm.acme-corp.test', '-keyout', own.key, '-out', own.cert]);
    const added = (await ok(['domains', 'add', 'acme', 'crm.acme-corp.test', '--cert', own.cert, '--key', own.key, '--json'])).json();
    expect(added.certificate).toBe('own');
    const r = await door('crm.acme-corp.test', '/api/health', { ca: own.cert });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).customer).toBe('acme');
    const taken = await h.cli(['domains', 'add', 'globex', 'crm.acme-corp.test']);
    expect(taken.exitCode, taken.why).toBe(5);
    expect((await h.cli(['domains', 'add', 'globex', 'acme.tenants.localhost'])).exitCode).toBe(2);
    expect((await h.cli(['domains', 'add', 'globex', 'not a domain'])).exitCode).toBe(2);
    const list = (await ok(['domains', 'list', '--json'])).json();
    expect(list.domains.map((d: any) => [d.domain, d.customerId])).toEqual([['crm.acme-corp.test', 'acme']]);
    await ok(['domains', 'remove', 'acme', 'crm.acme-corp.test']);
    // Gone: an unknown host (over HTTP: no certificate covers it any more).
    expect((await door('crm.acme-corp.test', '/api/health', { http: true })).status).toBe(404);
  }, 60_000);
});

describe('safe reloads', () => {
  it('refuses a candidate nginx -t rejects: exit 11 naming the tenant, and the old configuration keeps serving', async () => {
    const snippet = path.join(h.env.TENANTCTL_STATE_DIR!, 'frontdoor', 'snippets', 'acme.conf');
    writeFileSync(snippet, 'this_is_not_a_directive on;\n');
    try {
      const refused = await h.cli(['frontdoor', 'reload']);
      expect(refused.exitCode, refused.why).toBe(11);
      expect(refused.stderr).toMatch(/acme's configuration \(unknown directive "this_is_not_a_directive"/);
      expect((await door(`acme.${base}`, '/api/health')).status).toBe(200);
      expect((await door(`globex.${base}`, '/api/health')).status).toBe(200);
      // A tenant change meanwhile still goes live (the broken tenant does not block the others), with a warning.
      const stop = await ok(['stop', 'globex']);
      expect(stop.stderr).toMatch(/warning: front door: nginx -t refused acme's new configuration/);
      expect((await door(`globex.${base}`, '/api/health')).status).toBe(503);
      await ok(['start', 'globex']);
    } finally {
      rmSync(snippet, { force: true });
    }
    await ok(['frontdoor', 'reload']);
    expect((await door(`acme.${base}`, '/api/health')).status).toBe(200);
  }, 120_000);

  it('serialises concurrent reloads across processes', async () => {
    const results = await Promise.all([1, 2, 3].map(() => h.cli(['frontdoor', 'reload', '--json'])));
    for (const r of results) expect(r.exitCode, r.why).toBe(0);
    expect((await door(`acme.${base}`, '/api/health')).status).toBe(200);
  }, 60_000);

  it('reports the certificates with their expiry dates and a healthy front door', async () => {
    const status = (await ok(['frontdoor', 'status', '--json'])).json();
    expect(status.healthy, status.problems.join('\n')).toBe(true);
    const roles = Object.fromEntries(status.certificates.map((c: any) => [c.role, c]));
    expect(roles.base.names).toEqual(expect.arrayContaining([`*.${base}`, base]));
    expect(new Date(roles.base.notAfter).getTime()).toBeGreaterThan(Date.now() + 300 * 86_400_000);
    expect(roles['local CA']).toBeDefined();
    expect(status.routes.map((r: any) => r.tenant)).toEqual(['acme', 'globex']);
  });

  it('drops a deprovisioned tenant: its host name is unknown (404)', async () => {
    await ok(['deprovision', 'globex', '--yes']);
    expect((await door(`globex.${base}`, '/api/health')).status).toBe(404);
    expect((await door(`acme.${base}`, '/api/health')).status).toBe(200);
  }, 120_000);
});
