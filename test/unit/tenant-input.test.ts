import { describe, expect, it } from 'vitest';
import { parseTenantId, parseOrUsage, tenantNameSchema } from '../../src/tenants/input.js';
import { TenantctlError } from '../../src/common/errors.js';

describe('tenant id', () => {
  it.each(['acme', 'a', 'acme-corp', 'a1', 'x'.repeat(40), 'tenant-2026'])('accepts %j', (id) => {
    expect(parseTenantId(id)).toBe(id);
  });

  it.each([
    ['ACME', /lowercase/],
    ['../x', /start with a lowercase letter/],
    ['a;b', /only lowercase letters, digits and dashes/],
    ['a b', /only lowercase letters, digits and dashes/],
    ['', /must not be empty/],
    ['a'.repeat(64), /at most 40/],
    ['1acme', /start with a lowercase letter/],
    ['acme-', /end with a dash/],
    ['acme_corp', /only lowercase/],
    ['admin', /reserved/],
    ['ac\nme', /only lowercase/],
    ['${X}', /start with a lowercase letter/],
  ])('refuses %j with a usage error (exit 2)', (id, reason) => {
    let caught: unknown;
    try {
      parseTenantId(id);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TenantctlError);
    expect((caught as TenantctlError).exitCode).toBe(2);
    expect((caught as TenantctlError).message).toMatch(reason);
    expect((caught as TenantctlError).message).not.toContain('\n');
  });
});

describe('tenant name', () => {
  it('keeps quotes, colons, hashes and dollar signs: rendering makes them harmless', () => {
    expect(parseOrUsage(tenantNameSchema, ` ACME "Corp": #1 \${X} `, 'name')).toBe(`ACME "Corp": #1 \${X}`);
  });
  it('refuses newlines and empty names', () => {
    expect(() => parseOrUsage(tenantNameSchema, 'a\nb', 'name')).toThrow(/control characters/);
    expect(() => parseOrUsage(tenantNameSchema, '   ', 'name')).toThrow(/empty/);
  });
});
