import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { parseSince } from '../../src/audit/since.js';
import { apiKeyPattern, apiKeyPrefix, generateApiKey, hashApiKey } from '../../src/api-keys/key.js';
import { describeChange } from '../../src/audit/render.js';
import { table } from '../../src/common/text-table.js';
import { TenantctlError } from '../../src/common/errors.js';

const now = Date.parse('2025-06-15T12:00:00Z');

describe('--since', () => {
  it.each([
    ['30m', '2025-06-15T11:30:00.000Z'],
    ['2h', '2025-06-15T10:00:00.000Z'],
    ['7d', '2025-06-08T12:00:00.000Z'],
    ['1w', '2025-06-08T12:00:00.000Z'],
    ['45s', '2025-06-15T11:59:15.000Z'],
    ['90M', '2025-06-15T10:30:00.000Z'],
    [' 2h ', '2025-06-15T10:00:00.000Z'],
    ['2025-01-31', '2025-01-31T00:00:00.000Z'],
    ['2025-01-31T14:00Z', '2025-01-31T14:00:00.000Z'],
    ['2025-01-31T14:00:05.250Z', '2025-01-31T14:00:05.250Z'],
    ['2025-01-31T14:00:00+02:00', '2025-01-31T12:00:00.000Z'],
    ['2025-01-31 14:00Z', '2025-01-31T14:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ])('reads %j', (value, expected) => {
    expect(parseSince(value, now).toISOString()).toBe(expected);
  });

  it('reads a date-time without an offset as local time', () => {
    expect(parseSince('2025-01-31T14:00', now).getTime()).toBe(new Date(2025, 0, 31, 14, 0).getTime());
  });

  it.each(['', 'yesterday', '7', '7 days', '-2h', '2y', 'h2', '2025-02-30', '2025-13-01', '2023-02-29', '31/01/2025', 'May 2', '2025-01-31T25:00Z', '1e3d'])(
    'refuses %j with a usage error (exit 2)',
    (value) => {
      let caught: unknown;
      try {
        parseSince(value, now);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TenantctlError);
      expect((caught as TenantctlError).exitCode).toBe(2);
      expect((caught as TenantctlError).message).toMatch(/--since .*ISO date.*30m/);
    },
  );
});

describe('API keys', () => {
  it('are tk_live_ and 32 alphanumerics, different every time', () => {
    const keys = Array.from({ length: 200 }, generateApiKey);
    for (const key of keys) expect(key).toMatch(apiKeyPattern);
    expect(new Set(keys).size).toBe(keys.length);
    // every character of the alphabet can occur (no truncated alphabet)
    const seen = new Set(keys.flatMap((k) => [...k.slice(8)]));
    expect(seen.size).toBe(62);
  });

  it('hash to the SHA-256 hex of the whole key', () => {
    const key = 'tk_live_0123456789abcdefABCDEF0123456789';
    expect(hashApiKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).not.toBe(hashApiKey(`${key.slice(0, -1)}0`));
  });

  it('show only the marker and 4 characters as the prefix', () => {
    const key = generateApiKey();
    expect(apiKeyPrefix(key)).toBe(key.slice(0, 12));
    expect(apiKeyPrefix(key)).toMatch(/^tk_live_[0-9A-Za-z]{4}$/);
  });
});

describe('audit change summary', () => {
  it('names what changed and what it is about', () => {
    expect(describeChange({ module: 'ai_assistant', enabled: null }, { module: 'ai_assistant', enabled: true })).toBe('module="ai_assistant", enabled: null → true');
    expect(describeChange({ status: 'provisioning', name: 'A' }, { status: 'active', name: 'A' })).toBe('name="A", status: "provisioning" → "active"');
  });

  it('lists the new values when there were none, and cuts long lines', () => {
    expect(describeChange(null, { id: 'k1', prefix: 'tk_live_AbCd' })).toBe('id="k1", prefix="tk_live_AbCd"');
    expect(describeChange(null, null)).toBe('');
    const long = describeChange(null, { text: 'x'.repeat(500) });
    expect(long).toHaveLength(100);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('table', () => {
  it('aligns coloured cells by what is visible', () => {
    const out = table(['A', 'B'], [['\x1b[32mon\x1b[39m', 'x'], ['\x1b[2moff\x1b[22m', 'y']]);
    const stripped = out.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
    expect(stripped).toEqual(['A    B', 'on   x', 'off  y']);
  });
});
