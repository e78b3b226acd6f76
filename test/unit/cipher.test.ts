import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { CipherError, open, seal } from '../../src/secrets/cipher.js';
import { parseMasterKey } from '../../src/secrets/master-key.js';
import { TenantctlError } from '../../src/common/errors.js';

const key = randomBytes(32);
const secret = 'DB_PASSWORD=Zq8v0cH2lq9sWJm3Ue7nR1tYb4kX6aPd';

/** Flips one bit of one base64url part (1 iv, 2 tag, 3 ciphertext), keeping the format valid. */
function tamper(sealed: string, part: 1 | 2 | 3): string {
  const parts = sealed.split(':');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[0]! ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join(':');
}

const refusal = (reason: CipherError['reason']) => (fn: () => unknown) => {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(CipherError);
  expect((thrown as CipherError).reason).toBe(reason);
  expect((thrown as Error).message).not.toContain(secret);
};

describe('seal and open (AES-256-GCM)', () => {
  it('round-trips text, including empty and non-ASCII text', () => {
    for (const text of [secret, '', 'Grüße, 東京 🔑', 'x'.repeat(10_000)]) {
      expect(open(key, seal(key, text, 'tenant-secrets:acme'), 'tenant-secrets:acme')).toBe(text);
    }
  });

  it('writes v1:<iv>:<tag>:<ciphertext> in base64url, with a fresh IV each time and no plaintext', () => {
    const a = seal(key, secret, 'p');
    const b = seal(key, secret, 'p');
    expect(a).toMatch(/^v1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('Zq8v0cH2');
    expect(Buffer.from(a.split(':')[3]!, 'base64url').toString('latin1')).not.toContain('DB_PASSWORD');
  });

  it('refuses the wrong key', () => {
    refusal('unauthenticated')(() => open(randomBytes(32), seal(key, secret, 'p'), 'p'));
  });

  it('refuses another purpose: a value copied to another row does not open', () => {
    const sealed = seal(key, secret, 'tenant-secrets:acme');
    refusal('unauthenticated')(() => open(key, sealed, 'tenant-secrets:globex'));
    refusal('unauthenticated')(() => open(key, sealed, 'tenant-secrets:acm'));
  });

  it.each([[1], [2], [3]] as const)('refuses a value with part %i altered', (part) => {
    refusal('unauthenticated')(() => open(key, tamper(seal(key, secret, 'p'), part), 'p'));
  });

  it('refuses a ciphertext with bytes appended or removed', () => {
    const [v, iv, tag, ct] = seal(key, secret, 'p').split(':') as [string, string, string, string];
    const longer = Buffer.concat([Buffer.from(ct, 'base64url'), Buffer.from([0])]).toString('base64url');
    const shorter = Buffer.from(ct, 'base64url').subarray(1).toString('base64url');
    refusal('unauthenticated')(() => open(key, [v, iv, tag, longer].join(':'), 'p'));
    refusal('unauthenticated')(() => open(key, [v, iv, tag, shorter].join(':'), 'p'));
  });

  it('refuses truncated, garbage and wrong-version input as malformed', () => {
    const sealed = seal(key, secret, 'p');
    const [, iv, tag, ct] = sealed.split(':') as [string, string, string, string];
    const cases = [
      '',
      'garbage',
      secret,
      sealed.slice(0, 20),
      sealed.split(':').slice(0, 3).join(':'),
      `v2:${iv}:${tag}:${ct}`,
      `v1:${iv}:${tag.slice(0, 16)}:${ct}`, // a shortened tag: GCM would otherwise accept it
      `v1:${iv}AA:${tag}:${ct}`,
      `v1:${iv}:${tag}:${ct}:extra`,
      `v1:${iv}:${tag}:${ct}!`,
      `v1:${iv}:${tag}:${ct.replace(/./, '+')}`,
    ];
    for (const input of cases) refusal('malformed')(() => open(key, input, 'p'));
  });

  it('needs a 32-byte key', () => {
    expect(() => seal(randomBytes(16), secret, 'p')).toThrow(/32 bytes/);
  });
});

describe('parseMasterKey', () => {
  const bytes = randomBytes(32);

  it('accepts 32 bytes as hex (either case), base64 and base64url, padded or not, with surrounding whitespace', () => {
    for (const text of [bytes.toString('hex'), bytes.toString('hex').toUpperCase(), bytes.toString('base64'), bytes.toString('base64').replace(/=$/, ''), bytes.toString('base64url'), `  ${bytes.toString('hex')}\n`]) {
      expect(parseMasterKey(text).equals(bytes)).toBe(true);
    }
  });

  it('refuses other lengths and other text with a usage error that does not echo the value', () => {
    const values = [
      '',
      'correct horse battery staple',
      randomBytes(31).toString('hex'),
      randomBytes(33).toString('hex'),
      randomBytes(16).toString('hex'),
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      randomBytes(48).toString('base64'),
      `${bytes.toString('hex').slice(0, 63)}g`,
    ];
    for (const value of values) {
      let thrown: unknown;
      try {
        parseMasterKey(value);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TenantctlError);
      expect((thrown as TenantctlError).kind).toBe('usage');
      expect((thrown as Error).message).toMatch(/^TENANTCTL_MASTER_KEY must be 32 bytes/);
      if (value.length > 4) expect((thrown as Error).message).not.toContain(value.slice(0, 8));
    }
  });
});
