// The pure parts of keeping the gateway off the hot path: which module area nginx's map gives a
// path (it must agree with the gateway's own prefix match, or a cached verdict could let a path of
// another module through), and how the gateway counts nginx's usage lines.
import { describe, expect, it } from 'vitest';
import { moduleAreaPattern } from '../../src/frontdoor/render-api-keys.js';
import { countLines, endpointOf, readyFiles, usageGraceMs, type UsageRow } from '../../apps/gateway/usage-files.js';

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

  it('names endpoints with ids as :id', () => {
    expect(endpointOf('/api/orders/123/items/9f8e7d6c5b4a39281706?x=1')).toBe('/api/orders/:id/items/:id');
    expect(endpointOf('/api/contacts/6f1c7a36-0d2b-4e0c-9d7e-1f2a3b4c5d6e')).toBe('/api/contacts/:id');
  });
});
