import { describe, expect, it } from 'vitest';
import { confirmState, exitCodeFromStatus, expectedServicesOf, healthFromStatus, judge, pickRestart, restartDelayMs, startedRecently, transitionEvent, type ContainerSnapshot, type ExpectedService } from '../../src/watch/classify.js';
import { signPayload, verifySignature } from '../../src/alerts/sign.js';
import { retryDelayMs } from '../../src/alerts/deliver.js';
import { parseEndpointUrl, parseEventFilter } from '../../src/alerts/endpoints.js';
import { isPrivateAddress, redactUrl, requirePublicTarget, targetRefusal } from '../../src/alerts/target.js';
import { Exposition, escapeLabelValue } from '../../src/metrics/exposition.js';

const c = (service: string, state: string, extra: Partial<ContainerSnapshot> = {}): ContainerSnapshot => ({ id: service, project: 'p', service, state, ...extra });
const e = (...names: string[]): ExpectedService[] => names.map((name) => ({ name, oneShot: false }));

describe('watch: judging a tenant', () => {
  it('is ready when every service runs and none is unhealthy', () => {
    expect(judge([c('app', 'running', { health: 'healthy' }), c('db', 'running')], e('app', 'db'))).toEqual({ state: 'ready', services: ['app', 'db'], reasons: [] });
    expect(judge([c('app', 'running', { health: 'starting' })], e('app')).state).toBe('ready');
  });

  it('is down when a service is not running, a known service has no container, or nothing is there', () => {
    expect(judge([c('app', 'running'), c('db', 'exited')], e()).state).toBe('down');
    expect(judge([c('app', 'running'), c('db', 'exited')], e()).reasons).toEqual(['db: exited']);
    expect(judge([c('app', 'running')], e('app', 'db'))).toMatchObject({ state: 'down', reasons: ['db: no container'] });
    expect(judge([], e('app'))).toMatchObject({ state: 'down', reasons: ['no containers'] });
  });

  it('is degraded when a service is unhealthy, restarting, or was restarted by Docker since the last pass', () => {
    expect(judge([c('app', 'running', { health: 'unhealthy' })], e('app'))).toMatchObject({ state: 'degraded', reasons: ['app: unhealthy'] });
    expect(judge([c('app', 'restarting')], e('app')).state).toBe('degraded');
    const restarted = c('db', 'running', { restartCount: 2, startedAt: '2026-12-06T08:00:10Z' });
    expect(judge([restarted], e('db'), Date.parse('2026-12-06T08:00:00Z')).state).toBe('degraded');
    expect(judge([restarted], e('db'), Date.parse('2026-12-06T08:00:20Z')).state).toBe('ready');
    expect(judge([restarted], e('db')).state).toBe('ready');
  });

  it('makes events of changes only: down, degraded, recovered; a tenant first seen ready is none', () => {
    expect(transitionEvent(undefined, 'ready')).toBeUndefined();
    expect(transitionEvent(undefined, 'down')).toBe('tenant.down');
    expect(transitionEvent('ready', 'degraded')).toBe('tenant.degraded');
    expect(transitionEvent('degraded', 'down')).toBe('tenant.down');
    expect(transitionEvent('down', 'ready')).toBe('tenant.recovered');
    expect(transitionEvent('down', 'down')).toBeUndefined();
  });

  it('reads health and recent starts from Docker\'s status text', () => {
    expect(healthFromStatus('Up 3 minutes (healthy)')).toBe('healthy');
    expect(healthFromStatus('Up 3 seconds (health: starting)')).toBe('starting');
    expect(healthFromStatus('Up 3 hours (unhealthy)')).toBe('unhealthy');
    expect(healthFromStatus('Exited (137) 2 seconds ago')).toBeUndefined();
    expect(startedRecently('Up Less than a second', 30)).toBe(true);
    expect(startedRecently('Up 12 seconds (healthy)', 30)).toBe(true);
    expect(startedRecently('Up 45 seconds', 30)).toBe(false);
    expect(startedRecently('Up About a minute', 60)).toBe(true);
    expect(startedRecently('Up 3 hours', 3600)).toBe(false);
  });

  it('takes expected services from the compose file: a one-shot job that exited 0 is done, not down; a missing long-running one is down', () => {
    const expected = expectedServicesOf({ app: { restart: 'unless-stopped' }, migrate: { restart: 'no' }, seed: {}, worker: { restart: 'on-failure:3' } }, ['app', 'migrate', 'seed', 'worker']);
    expect(expected).toEqual([{ name: 'app', oneShot: false }, { name: 'migrate', oneShot: true }, { name: 'seed', oneShot: true }, { name: 'worker', oneShot: true }]);
    const jobs = [c('app', 'running'), c('migrate', 'exited', { exitCode: 0 }), c('worker', 'running')];
    expect(judge(jobs, expected)).toEqual({ state: 'ready', services: ['app', 'worker'], reasons: [] });
    expect(judge([c('app', 'running'), c('migrate', 'exited', { exitCode: 1 }), c('worker', 'running')], expected)).toMatchObject({ state: 'down', reasons: ['migrate: exited (1)'] });
    // A long-running service that exits 0 is still down; one never seen (only in the compose file) is missed.
    expect(judge([c('app', 'exited', { exitCode: 0 })], expected).state).toBe('down');
    expect(judge([c('migrate', 'exited', { exitCode: 0 })], expected)).toMatchObject({ state: 'down', reasons: ['app: no container'] });
    expect(exitCodeFromStatus('Exited (137) 2 seconds ago')).toBe(137);
    expect(exitCodeFromStatus('Up 3 minutes')).toBeUndefined();
  });

  it('records a new state only after confirmPasses passes in a row see it (flap damping)', () => {
    const ready = { state: 'ready' as const, pendingState: null, pendingPasses: 0 };
    const first = confirmState(ready, 'down', 2);
    expect(first).toEqual({ next: { state: 'ready', pendingState: 'down', pendingPasses: 1 }, changed: false });
    expect(confirmState(first.next, 'down', 2)).toEqual({ next: { state: 'down', pendingState: null, pendingPasses: 0 }, changed: true });
    // A flap (down once, then ready) is no change and clears what was pending.
    expect(confirmState(first.next, 'ready', 2)).toEqual({ next: ready, changed: false });
    // A different bad state restarts the count.
    expect(confirmState(first.next, 'degraded', 2)).toEqual({ next: { state: 'ready', pendingState: 'degraded', pendingPasses: 1 }, changed: false });
    expect(confirmState(ready, 'down', 1).changed).toBe(true);
    expect(confirmState(undefined, 'down', 3)).toEqual({ next: { state: 'down', pendingState: null, pendingPasses: 0 }, changed: true });
  });

  it('keeps a crash loop degraded (no ready between crashes, so no alert per cycle)', () => {
    const now = Date.parse('2026-12-06T08:10:00Z');
    // Restarted by Docker 4 minutes ago: within the quiet window, still degraded.
    const crashed = c('app', 'running', { restartCount: 7, startedAt: '2026-12-06T08:06:00Z' });
    expect(judge([crashed], e('app'), now - 300_000).state).toBe('degraded');
    expect(judge([crashed], e('app'), now - 100_000).state).toBe('ready');
  });

  it('restarts at most one down tenant per pass, due, of an auto-restart plan, below the attempt limit', () => {
    const t = (id: string, plan: string, restartAttempts: number, nextRestartAt: number | null) => ({ id, plan, restartAttempts, nextRestartAt });
    const plans = new Set(['starter']);
    expect(pickRestart([t('a', 'standard', 0, null), t('b', 'starter', 0, null), t('c', 'starter', 0, null)], plans, 1000, 5)?.id).toBe('b');
    expect(pickRestart([t('b', 'starter', 0, 2000)], plans, 1000, 5)).toBeUndefined();
    expect(pickRestart([t('b', 'starter', 5, null)], plans, 1000, 5)).toBeUndefined();
    expect(pickRestart([t('b', 'starter', 4, 900), t('c', 'starter', 1, 500)], plans, 1000, 5)?.id).toBe('c');
  });

  it('backs auto-restarts off: base, doubled, capped', () => {
    expect([0, 1, 2, 3, 10].map((n) => restartDelayMs(n, 30_000, 1_800_000))).toEqual([30_000, 60_000, 120_000, 240_000, 1_800_000]);
  });
});

describe('alerts', () => {
  it('signs timestamp.body with HMAC-SHA256 keyed with the secret string; the receiver check refuses a wrong signature or an old timestamp', () => {
    // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
    expect(signPayload('whsec_test', 1_700_000_000, '{"a":1}')).toBe('sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789');
    const signature = signPayload('whsec_test', 1_700_000_000, '{"a":1}');
    const at = { nowMs: 1_700_000_000_000 };
    expect(verifySignature('whsec_test', '1700000000', '{"a":1}', signature, at)).toBe(true);
    expect(verifySignature('whsec_test', '1700000001', '{"a":1}', signature, at)).toBe(false);
    expect(verifySignature('whsec_test', '1700000000', '{"a":2}', signature, at)).toBe(false);
    expect(verifySignature('whsec_other', '1700000000', '{"a":1}', signature, at)).toBe(false);
    expect(verifySignature('whsec_test', 'x', '{"a":1}', signature, at)).toBe(false);
    // Replay window: 300 s either way by default, configurable.
    expect(verifySignature('whsec_test', '1700000000', '{"a":1}', signature, { nowMs: 1_700_000_300_000 })).toBe(true);
    expect(verifySignature('whsec_test', '1700000000', '{"a":1}', signature, { nowMs: 1_700_000_301_000 })).toBe(false);
    expect(verifySignature('whsec_test', '1700000000', '{"a":1}', signature, { nowMs: 1_699_999_699_000 })).toBe(false);
    expect(verifySignature('whsec_test', '1700000000', '{"a":1}', signature, { nowMs: 1_700_000_301_000, toleranceSeconds: 600 })).toBe(true);
  });

  it('refuses webhook targets on loopback, private, link-local addresses and Docker ports unless allowed; shows URLs without path or query', async () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.17.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1']) expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
    const resolve = async (host: string) => (host === 'inside.example' ? ['10.0.0.5'] : ['93.184.216.34']);
    expect(await targetRefusal('http://127.0.0.1:8080/x', false, resolve)).toMatch(/127.0.0.1 is a loopback, private or link-local/);
    expect(await targetRefusal('http://[::1]/x', false, resolve)).toMatch(/loopback/);
    expect(await targetRefusal('https://inside.example/x', false, resolve)).toMatch(/resolves to 10.0.0.5/);
    expect(await targetRefusal('http://hooks.example.com:2375/', false, resolve)).toMatch(/Docker API/);
    expect(await targetRefusal('https://hooks.example.com/x', false, resolve)).toBeUndefined();
    expect(await targetRefusal('http://127.0.0.1:2375/x', true, resolve)).toBeUndefined();
    await expect(requirePublicTarget('http://127.0.0.1/x', false, resolve)).rejects.toThrow(/--allow-private/);
    const shown = redactUrl('https://hooks.slack.com/services/T000/B000/XXXXSECRET?token=abc');
    expect(shown).toMatch(/^https:\/\/hooks\.slack\.com\/… \(#[0-9a-f]{8}\)$/);
    expect(shown).not.toMatch(/SECRET|abc|T000/);
    expect(redactUrl('https://hooks.slack.com/services/other')).not.toBe(shown);
  });

  it('retries with exponential backoff, capped', () => {
    expect([1, 2, 3, 4, 20].map((n) => retryDelayMs(n, 30_000, 3_600_000))).toEqual([30_000, 60_000, 120_000, 240_000, 3_600_000]);
  });

  it('takes http(s) URLs without credentials and known event kinds only', () => {
    expect(parseEndpointUrl('https://hooks.example.com/x')).toBe('https://hooks.example.com/x');
    expect(() => parseEndpointUrl('ftp://example.com')).toThrow(/http/);
    expect(() => parseEndpointUrl('https://user:pw@example.com/')).toThrow(/user or password/);
    expect(() => parseEndpointUrl('not a url')).toThrow(/not a URL/);
    expect(parseEventFilter(['tenant.down,tenant.recovered', 'tenant.down'])).toEqual(['tenant.down', 'tenant.recovered']);
    expect(() => parseEventFilter(['tenant.exploded'])).toThrow(/unknown event tenant.exploded/);
  });
});

describe('metrics exposition', () => {
  it('escapes label values: backslash, quote, newline', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it('writes HELP, TYPE and samples, and histograms with cumulative buckets, +Inf, sum and count', () => {
    const text = new Exposition()
      .gauge('t_g', 'a gauge\nwith a newline and a \\', [{ labels: { tenant: 'x"y' }, value: 1 }, { value: NaN }])
      .counter('t_total', 'a counter', [{ labels: { tenant: 'a' }, value: 3 }])
      .histogram('t_seconds', 'durations', [1, 5], [{ labels: { operation: 'backup' }, observations: [0.5, 2, 7] }])
      .text();
    expect(text).toBe([
      '# HELP t_g a gauge\\nwith a newline and a \\\\',
      '# TYPE t_g gauge',
      't_g{tenant="x\\"y"} 1',
      't_g NaN',
      '# HELP t_total a counter',
      '# TYPE t_total counter',
      't_total{tenant="a"} 3',
      '# HELP t_seconds durations',
      '# TYPE t_seconds histogram',
      't_seconds_bucket{operation="backup",le="1"} 1',
      't_seconds_bucket{operation="backup",le="5"} 2',
      't_seconds_bucket{operation="backup",le="+Inf"} 3',
      't_seconds_sum{operation="backup"} 9.5',
      't_seconds_count{operation="backup"} 3',
      '',
    ].join('\n'));
  });

  it('writes a histogram bucketed in SQL as given (cumulative counts, +Inf = count)', () => {
    const text = new Exposition().histogramCounts('t_seconds', 'd', [1, 5], [{ labels: { operation: 'backup' }, cumulative: [1, 2], count: 3, sum: 9.5 }]).text();
    expect(text.split('\n').slice(2, 7)).toEqual([
      't_seconds_bucket{operation="backup",le="1"} 1',
      't_seconds_bucket{operation="backup",le="5"} 2',
      't_seconds_bucket{operation="backup",le="+Inf"} 3',
      't_seconds_sum{operation="backup"} 9.5',
      't_seconds_count{operation="backup"} 3',
    ]);
  });

  it('refuses bad names, a counter without _total, and a metric written twice', () => {
    expect(() => new Exposition().gauge('bad-name', 'x', [])).toThrow(/bad metric name/);
    expect(() => new Exposition().gauge('g', 'x', [{ labels: { 'bad-label': 'v' }, value: 1 }])).toThrow(/bad label name/);
    expect(() => new Exposition().counter('c', 'x', [])).toThrow(/_total/);
    expect(() => new Exposition().gauge('g', 'x', []).gauge('g', 'x', [])).toThrow(/twice/);
  });
});
