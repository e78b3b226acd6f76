// tenantctl's gateway: the front door's API key check. nginx asks it, for every request under /api/
// (auth_request), whether the request may pass:
//   GET /auth     headers X-Tenantctl-Tenant (set by nginx from the Host), X-Tenantctl-Module-Area
//                 (the module nginx's map says the path needs, "" for none), X-Original-Uri,
//                 Authorization: Bearer tk_live_... or X-API-Key: tk_live_...
//                 200 (X-Tenantctl-Key-Id), 401 (X-Tenantctl-Reason), 403 (X-Tenantctl-Module);
//                 anything else (503 when the admin database fails) makes nginx answer 503: closed.
//   GET /healthz  200 when the admin database answers.
// The key's SHA-256 is looked up in admin_api_keys; it must belong to the Host's tenant, not be
// revoked, and the tenant must be active; a suspended tenant's key gets 401 with X-Tenantctl-Suspended
// (the reason, escaped as JSON text: nginx puts it in the body, render.ts). Verdicts and each tenant's enabled modules are cached for
// keyCacheMs, so a revoked key or a disabled module stops passing within that time (plus nginx's own
// verdict cache, src/frontdoor/render-api-keys.ts). The answer depends only on the tenant, the key and
// the module area: nginx caches it under exactly those. Usage is not counted here (a cached verdict
// never reaches the gateway) but from the lines nginx writes per request, in files renamed every
// second (usage-files.ts): every flushMs the finished files go into admin_api_usage, with the keys'
// last_used_at, in one transaction.
//
// Runs in tenantctl/gateway (Debian's Node 18), bundled with pg by scripts/bundle-gateway.mjs. It
// reads its configuration (with its admin database URL: the tenantctl_gateway role, migration 014, never
// the owner) as root from a 0600 file, then drops to nobody.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { prepareUsageDir, readUsageBatch, removeUsageFiles, rotationWatch } from './usage-files.js';
import { writeUsage } from './usage-sql.js';
import { jsonText } from '../../src/frontdoor/suspension-text.js';

interface GatewayConfig {
  databaseUrl: string;
  host: string;
  port: number;
  keyCacheMs: number;
  flushMs: number;
  /** Path prefix -> module key: only for a caller that sends no X-Tenantctl-Module-Area. */
  modulePaths: Record<string, string>;
  /** Where nginx writes the usage lines (a bind mount shared with nginx). */
  usageDir: string;
  /** Uncached lookups of unknown keys per client address and second before the gateway stops asking (default 10). */
  unknownKeyLookupsPerSecond?: number;
}

const config: GatewayConfig = JSON.parse(readFileSync(process.env.GATEWAY_CONFIG ?? '/etc/tenantctl-gateway/config.json', 'utf8'));
// A configuration written by an older tenantctl has no usageDir: the place nginx's lines go.
config.usageDir ??= '/var/log/tenantctl-usage';
if (typeof process.getuid === 'function' && process.getuid() === 0 && process.setuid && process.setgid) {
  prepareUsageDir(config.usageDir);
  process.setgroups?.([]);
  process.setgid(65534);
  process.setuid(65534);
}

const log = (level: string, message: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);

const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 4, connectionTimeoutMillis: 2_000, idleTimeoutMillis: 30_000, statement_timeout: 3_000 } as pg.PoolConfig);
pool.on('error', (error) => log('warn', 'admin database connection dropped', { error: error.message }));

const keyPattern = /^tk_live_[0-9A-Za-z]{32}$/;
// Longest prefix first, so /api/ai/assist/ beats /api/ai/.
const modulePrefixes = Object.entries(config.modulePaths).sort((a, b) => b[0].length - a[0].length);

type KeyVerdict = { ok: true; keyId: string; customerId: string } | { ok: false; reason: string; customerId?: string; suspension?: string };
interface Cached<T> { value: T; expires: number }

const keyCache = new Map<string, Cached<KeyVerdict>>();
const moduleCache = new Map<string, Cached<Set<string>>>();
const inFlight = new Map<string, Promise<unknown>>();
const maxCacheEntries = 100_000;

/** One lookup per key (or tenant) at a time, shared by concurrent requests; cached for keyCacheMs. */
async function cached<T>(cache: Map<string, Cached<T>>, key: string, load: () => Promise<T>): Promise<T> {
  const hit = cache.get(key);
  const now = Date.now();
  if (hit && hit.expires > now) return hit.value;
  const flightKey = `${cache === (keyCache as unknown) ? "k" : "m"}:${key}`;
  let pending = inFlight.get(flightKey) as Promise<T> | undefined;
  if (!pending) {
    pending = load().then((value) => {
      // Full (a stranger cycling made-up keys): the oldest tenth goes, not every genuine key's verdict.
      if (cache.size >= maxCacheEntries) for (const old of [...cache.keys()].slice(0, maxCacheEntries / 10)) cache.delete(old);
      if (config.keyCacheMs > 0) cache.set(key, { value, expires: Date.now() + config.keyCacheMs });
      return value;
    }).finally(() => inFlight.delete(flightKey));
    inFlight.set(flightKey, pending);
  }
  return pending;
}

/**
 * Lookups of keys nobody has, per client address (nginx's X-Tenantctl-Client), this second. A
 * well-formed made-up key misses every cache, so each costs a database query: past
 * unknownKeyLookupsPerSecond a client's uncached keys are not looked up until the next second, and
 * nginx answers it 429 (X-Tenantctl-Throttled; such a verdict is never cached). Known keys' cached
 * verdicts still pass.
 */
const unknownLookups = new Map<string, { second: number; count: number }>();
const unknownKeyLookupsPerSecond = config.unknownKeyLookupsPerSecond ?? 10;

function throttled(client: string): boolean {
  const seen = unknownLookups.get(client);
  return seen !== undefined && seen.second === Math.floor(Date.now() / 1000) && seen.count >= unknownKeyLookupsPerSecond;
}

function countUnknownLookup(client: string): void {
  const second = Math.floor(Date.now() / 1000);
  const seen = unknownLookups.get(client);
  if (seen && seen.second === second) seen.count += 1;
  else {
    if (unknownLookups.size >= maxCacheEntries) unknownLookups.clear(); // only this second's counts matter
    unknownLookups.set(client, { second, count: 1 });
  }
}

async function keyVerdict(hash: string): Promise<KeyVerdict> {
  const { rows } = await pool.query(
    `SELECT k.id, k.customer_id, k.revoked_at IS NOT NULL AS revoked, c.status, c.suspension_reason
       FROM admin_api_keys k JOIN admin_customers c ON c.id = k.customer_id WHERE k.key_hash = $1`,
    [hash],
  );
  const row = rows[0];
  if (!row) return { ok: false, reason: 'unknown API key' };
  if (row.revoked) return { ok: false, reason: 'API key revoked' };
  // A suspended tenant's own keys learn why (migration 019 lets this role read the reason only).
  if (row.status === 'suspended') return { ok: false, reason: 'tenant suspended', customerId: row.customer_id, suspension: jsonText(String(row.suspension_reason || 'no reason recorded')) };
  if (row.status !== 'active') return { ok: false, reason: 'tenant is not active' };
  return { ok: true, keyId: row.id, customerId: row.customer_id };
}

async function enabledModules(tenant: string): Promise<Set<string>> {
  const { rows } = await pool.query('SELECT module_key FROM admin_customer_modules WHERE customer_id = $1 AND enabled', [tenant]);
  return new Set(rows.map((r: { module_key: string }) => r.module_key));
}

function presentedKey(req: http.IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  const header = req.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

const overdueRotation = rotationWatch(config.usageDir);
let flushing: Promise<void> | undefined;
/** Counts the usage files of past seconds into admin_api_usage, then deletes them; one batch at a time. */
async function flush(): Promise<void> {
  if (flushing) return flushing;
  flushing = (async () => {
    const overdue = await overdueRotation(Date.now());
    if (overdue !== undefined) log('warn', 'usage.log is not being rotated: its requests are not counted until it is (is rotate-usage running in the nginx container?)', { seconds: Math.round(overdue / 1000) });
    const batch = await readUsageBatch(config.usageDir, Date.now());
    if (batch.files.length === 0) return;
    if (batch.unreadable > 0) log('warn', 'usage lines that could not be read were skipped', { lines: batch.unreadable });
    if (batch.rows.length > 0) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await writeUsage(client, batch.rows);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        // Not lost: the files stay and are read again with the next batch.
        log('warn', 'writing usage failed; the files are kept for the next batch', { error: (error as Error).message, files: batch.files.length });
        return;
      } finally {
        client.release();
      }
    }
    await removeUsageFiles(config.usageDir, batch.files);
  })().catch((error: unknown) => { log('warn', 'reading usage failed', { error: (error as Error).message }); })
    .finally(() => { flushing = undefined; });
  return flushing;
}

/** The module the request's path needs: nginx's area when it sends one (its verdict cache is keyed by it), else the gateway's own prefix match. */
function moduleOf(req: http.IncomingMessage): string | undefined {
  const area = req.headers['x-tenantctl-module-area'];
  if (typeof area === 'string') return area === '' ? undefined : area;
  const path = String(req.headers['x-original-uri'] ?? '/').split('?')[0]!;
  return modulePrefixes.find(([prefix]) => path.startsWith(prefix) || `${path}/` === prefix)?.[1];
}

function reply(res: http.ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-length': '0', 'cache-control': 'no-store', ...headers });
  res.end();
}

async function authorize(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const tenant = req.headers['x-tenantctl-tenant'];
  if (typeof tenant !== 'string' || tenant === '') return reply(res, 401, { 'x-tenantctl-reason': 'unknown host' });
  const key = presentedKey(req);
  if (!key) return reply(res, 401, { 'x-tenantctl-reason': 'missing API key (Authorization: Bearer or X-API-Key)' });
  if (!keyPattern.test(key)) return reply(res, 401, { 'x-tenantctl-reason': 'malformed API key' });
  const hash = createHash('sha256').update(key, 'utf8').digest('hex');
  const client = String(req.headers['x-tenantctl-client'] ?? '');
  const known = keyCache.get(hash);
  if (!(known && known.expires > Date.now()) && throttled(client)) {
    return reply(res, 401, { 'x-tenantctl-reason': 'too many unknown API keys from this address', 'x-tenantctl-throttled': '1' });
  }
  const verdict = await cached(keyCache, hash, () => keyVerdict(hash));
  if (!verdict.ok && verdict.reason === 'unknown API key') countUnknownLookup(client);
  // The suspension is told only to a key of this tenant; another tenant's key is no key here.
  if (!verdict.ok && verdict.suspension !== undefined && verdict.customerId === tenant) {
    return reply(res, 401, { 'x-tenantctl-reason': verdict.reason, 'x-tenantctl-suspended': verdict.suspension });
  }
  if (!verdict.ok) return reply(res, 401, { 'x-tenantctl-reason': verdict.suspension !== undefined ? 'unknown API key' : verdict.reason });
  // Another tenant's key is no key here: the same answer as an unknown one.
  if (verdict.customerId !== tenant) return reply(res, 401, { 'x-tenantctl-reason': 'unknown API key' });
  const module = moduleOf(req);
  if (module) {
    const modules = await cached(moduleCache, tenant, () => enabledModules(tenant));
    if (!modules.has(module)) return reply(res, 403, { 'x-tenantctl-module': module });
  }
  reply(res, 200, { 'x-tenantctl-key-id': verdict.keyId });
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const work = url === '/auth' || url.startsWith('/auth?')
    ? authorize(req, res)
    : url === '/healthz'
      ? pool.query('SELECT 1').then(() => reply(res, 200), () => reply(res, 503))
      : Promise.resolve(reply(res, 404));
  work.catch((error: unknown) => {
    log('warn', 'check failed', { error: (error as Error).message });
    if (!res.headersSent) reply(res, 503);
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 10_000;

const timer = setInterval(() => void flush(), config.flushMs);
server.listen(config.port, config.host, () => log('info', 'gateway listening', { host: config.host, port: config.port }));

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  server.close();
  server.closeIdleConnections();
  // What is ready is written now; seconds not yet over stay in their files for the next start.
  await flushing;
  await flush();
  await pool.end().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
