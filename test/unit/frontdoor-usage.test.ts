// The pure parts of keeping the gateway off the hot path: which module area nginx's map gives a
// path (it must agree with the gateway's own prefix match, or a cached verdict could let a path of
// another module through), and how the gateway counts nginx's usage lines.
import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { moduleAreaPattern } from '../../src/frontdoor/render-api-keys.js';
import { countLines, endpointOf, readUsageBatch, readyFiles, rotationOverdueMs, rotationWatch, statusClass, usageGraceMs, usageLogName, type UsageRow } from '../../apps/gateway/usage-files.js';
import { tempDir } from './temp-dirs.js';

/** The gateway's fallback rule (apps/gateway/server.ts moduleOf), for a raw request URI. */
const gatewayMatches = (prefix: string, uri: string) => {
  const path = uri.split('?')[0]!;
  return path.startsWith(prefix) || `${path}/` === prefix;
};

describe('module areas', () => {
  it('nginx\'s regex on $request_uri matches exactly the URIs the gateway gates', () => {
    const uris = ['/api/ai', '/api/ai/', '/api/ai?x=1', '/api/ai/summaries', '/api/ai/summaries?q=/api/bulk/', '/api/aix', '/api/aix/y', '/api/a', '/api/x?next=/api/ai/', '/api/custom-fields/3', '/api/custom-fieldsx', '/api/v1.2/x', '/api/v1x2/x'];
    for (const prefix of ['/api/ai/', '/api/custom-fields/', '/api/v1.2/', '/api/legacy']) {
      const pattern = new RegExp(moduleAreaPattern(prefix));
      for (const uri of uris) expect(pattern.test(uri), `${prefix} on ${uri}`).toBe(gatewayMatches(prefix, uri));
    }
  });
});

describe('usage files', () => {
  it('reads a second\'s file only once the second is over and the grace period has passed, oldest first', () => {
    const now = 1_700_000_010_000;
    const names = ['1700000009.log', '1700000007.log', '1700000008.log', 'notes.txt', '1700000010.log'];
    // 1700000008 ended at ...09.000; with the grace period it is ready at ...10.000.
    expect(usageGraceMs).toBe(1_000);
    expect(readyFiles(names, now)).toEqual(['1700000007.log', '1700000008.log']);
    expect(readyFiles(names, now + 60_000)).toEqual(['1700000007.log', '1700000008.log', '1700000009.log', '1700000010.log']);
  });

  it('reads renamed files, extra ones of a second (<second>-<n>.log) too, and never the file nginx is writing', () => {
    const now = 1_700_000_010_000;
    const names = [usageLogName, '1700000008-1.log', '1700000008.log', '1700000007-12.log', '1700000009-x.log'];
    expect(readyFiles(names, now)).toEqual(['1700000007-12.log', '1700000008-1.log', '1700000008.log']);
  });

  it('counts a line in the hour of its own time, whatever second its file was renamed in', () => {
    const rows = new Map<string, UsageRow>();
    const entry = { tenant: 'acme', key: '6f1c7a36-0d2b-4e0c-9d7e-1f2a3b4c5d6e', uri: '/api/me' };
    const text = [
      JSON.stringify({ time: '2023-11-14T21:59:59+00:00', ...entry }),
      JSON.stringify({ time: '2023-11-14T21:59:59+00:00', ...entry }),
      JSON.stringify({ time: '2023-11-14T23:00:00+01:00', ...entry }),
      JSON.stringify({ time: 'yesterday', ...entry }),
    ].join('\n');
    // The file was renamed at 22:00:01, but its first two lines are from 21:59:59.
    expect(countLines(text, Date.parse('2023-11-14T22:00:01Z') / 1000, rows)).toBe(1);
    const byHour = Object.fromEntries([...rows.values()].map((r) => [r.periodStart, r.count]));
    expect(byHour).toEqual({ '2023-11-14T21:00:00.000Z': 2, '2023-11-14T22:00:00.000Z': 1 });
  });

  it('counts every line once per tenant, key, endpoint and hour, and skips what it cannot read', () => {
    const rows = new Map<string, UsageRow>();
    const key = '6f1c7a36-0d2b-4e0c-9d7e-1f2a3b4c5d6e';
    const line = (uri: string, tenant = 'acme') => JSON.stringify({ tenant, key, uri });
    const text = [line('/api/orders/1001'), line('/api/orders/1002?x=1'), line('/api/orders/1001'), line('/api/me'), line('/api/me', 'globex'), '{broken', JSON.stringify({ tenant: 'acme', key: '', uri: '/api/x' }), ''].join('\n');
    const unreadable = countLines(text, 1_700_000_000, rows);
    expect(unreadable).toBe(2);
    const byId = Object.fromEntries([...rows.values()].map((r) => [`${r.customerId} ${r.endpoint}`, r]));
    expect(byId['acme /api/orders/:id']!.count).toBe(3);
    expect(byId['acme /api/me']!.count).toBe(1);
    expect(byId['globex /api/me']!.count).toBe(1);
    expect(byId['acme /api/me']!.periodStart).toBe('2023-11-14T22:00:00.000Z');
    // A second file of the same hour adds to the same rows.
    countLines(line('/api/me'), 1_700_000_001, rows);
    expect(byId['acme /api/me']!.count).toBe(2);
  });

  it('counts 4xx and 5xx answers in the same row as their requests; a line without a status (an older door) is a request of no class', () => {
    const rows = new Map<string, UsageRow>();
    const line = (status?: string) => JSON.stringify({ time: '2023-11-14T22:10:00+00:00', tenant: 'acme', key: '6f1c7a36-0d2b-4e0c-9d7e-1f2a3b4c5d6e', uri: '/api/orders/7', ...(status === undefined ? {} : { status }) });
    const text = [line('200'), line('404'), line('404'), line('502'), line(), line('301'), line('000')].join('\n');
    expect(countLines(text, 1_700_000_000, rows)).toBe(0);
    expect([...rows.values()]).toEqual([{ customerId: 'acme', keyId: '6f1c7a36-0d2b-4e0c-9d7e-1f2a3b4c5d6e', endpoint: '/api/orders/:id', periodStart: '2023-11-14T22:00:00.000Z', count: 7, responses4xx: 2, responses5xx: 1 }]);
  });

  it('knows a status\'s class from its first digit, and no class for anything that is not a three-digit status', () => {
    expect([statusClass('404'), statusClass('499'), statusClass(503), statusClass('500')]).toEqual(['4xx', '4xx', '5xx', '5xx']);
    expect([statusClass('200'), statusClass('304'), statusClass('000'), statusClass(''), statusClass(undefined), statusClass('4040'), statusClass('5'), statusClass(null)]).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
  });

  it('names endpoints with ids as :id', () => {
    expect(endpointOf('/api/orders/123/items/9f8e7d6c5b4a39281706?x=1')).toBe('/api/orders/:id/items/:id');
    expect(endpointOf('/api/contacts/6f1c7a36-0d2b-4e0c-9d7e-1f2a3b4c5d6e')).toBe('/api/contacts/:id');
  });

  it('reports usage.log once when the same file holds lines past the rotation deadline, and not while it is renamed in time', async () => {
    const dir = tempDir('tenantctl-usage-watch-');
    const check = rotationWatch(dir);
    const file = path.join(dir, usageLogName);
    const t0 = 1_700_000_000_000;
    expect(await check(t0)).toBeUndefined(); // no file
    writeFileSync(file, '');
    expect(await check(t0)).toBeUndefined(); // empty
    writeFileSync(file, '{"tenant":"acme"}\n');
    expect(await check(t0)).toBeUndefined(); // first seen with lines
    expect(await check(t0 + rotationOverdueMs)).toBeUndefined();
    expect(await check(t0 + rotationOverdueMs + 1_000)).toBe(rotationOverdueMs + 1_000);
    expect(await check(t0 + rotationOverdueMs + 2_000)).toBeUndefined(); // once per stall
    // Renamed and a new file written: a new inode, a new clock.
    rmSync(file);
    writeFileSync(path.join(dir, 'other'), 'x'); // keeps the old inode number from being reused at once
    writeFileSync(file, '{"tenant":"acme"}\n');
    expect(await check(t0 + rotationOverdueMs + 3_000)).toBeUndefined();
    expect(await check(t0 + 2 * rotationOverdueMs + 3_000)).toBeUndefined();
  });

  it('leaves a renamed file that was written within the grace period for the next batch, and reads <second>-<n>.log with its second', async () => {
    const dir = tempDir('tenantctl-usage-batch-');
    const now = 1_700_000_010_000;
    const line = JSON.stringify({ tenant: 'acme', key: '6f1c7a36-0d2b-4e0c-9d7e-1f2a3b4c5d6e', uri: '/api/me' });
    const write = (name: string, mtimeMs: number) => {
      writeFileSync(path.join(dir, name), `${line}\n`);
      utimesSync(path.join(dir, name), mtimeMs / 1000, mtimeMs / 1000);
    };
    write('1700000005.log', now - 5_000);
    write('1700000005-1.log', now - 5_000); // no time in its line: counted in its name's hour
    write('1700000007.log', now - 500); // nginx still wrote to it half a second ago
    write(usageLogName, now - 100);
    const batch = await readUsageBatch(dir, now);
    expect(batch.files).toEqual(['1700000005-1.log', '1700000005.log']);
    expect(batch.unreadable).toBe(0);
    expect(batch.rows).toEqual([{ customerId: 'acme', keyId: '6f1c7a36-0d2b-4e0c-9d7e-1f2a3b4c5d6e', endpoint: '/api/me', periodStart: '2023-11-14T22:00:00.000Z', count: 2, responses4xx: 0, responses5xx: 0 }]);
    expect((await readUsageBatch(dir, now + usageGraceMs)).files).toContain('1700000007.log');
  });
});
