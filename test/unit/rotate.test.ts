import { describe, expect, it } from 'vitest';
import { parseOnly } from '../../src/secrets/rotate.js';

describe('rotate-secrets --only', () => {
  it('defaults to every secret and accepts one or several kinds', () => {
    expect(parseOnly(undefined)).toEqual(['db', 'app-db', 'redis', 'jwt']);
    expect(parseOnly('redis')).toEqual(['redis']);
    expect(parseOnly('db, jwt,db')).toEqual(['db', 'jwt']);
  });
  it('refuses anything else (exit 2)', () => {
    for (const bad of ['', 'ldap', 'db,ldap', 'DB']) expect(() => parseOnly(bad)).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});
