import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// Authenticated encryption of short secrets: AES-256-GCM, a random 96-bit IV per value and the full
// 128-bit tag. The purpose (e.g. `tenant-secrets:acme`) is associated data: it is not stored, but a
// value opened under any other purpose fails authentication, so a ciphertext copied into another
// row is refused instead of being read as that row's secret.
//
// Sealed text: `v1:<iv>:<tag>:<ciphertext>`, each part base64url. The version prefix lets a later
// format coexist with values already stored.

export const keyLength = 32;
const version = 'v1';
const ivLength = 12;
const tagLength = 16;
const base64url = /^[A-Za-z0-9_-]*$/;

/**
 * A value that cannot be opened. `malformed`: not a sealed value at all (truncated, garbage, unknown
 * version). `unauthenticated`: well formed, but the key, the purpose or the bytes are not the ones
 * it was sealed with. Either way, no plaintext comes out.
 */
export class CipherError extends Error {
  constructor(readonly reason: 'malformed' | 'unauthenticated', message: string) {
    super(message);
    this.name = 'CipherError';
  }
}

export function seal(key: Buffer, plaintext: string, purpose: string): string {
  checkKey(key);
  const iv = randomBytes(ivLength);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagLength });
  cipher.setAAD(associatedData(purpose));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const text = (bytes: Buffer) => bytes.toString('base64url');
  return `${version}:${text(iv)}:${text(cipher.getAuthTag())}:${text(ciphertext)}`;
}

export function open(key: Buffer, sealed: string, purpose: string): string {
  checkKey(key);
  const { iv, tag, ciphertext } = parse(sealed);
  // authTagLength pins the tag size: without it GCM would also accept a shortened tag.
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: tagLength });
  decipher.setAAD(associatedData(purpose));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new CipherError('unauthenticated', `cannot open the sealed ${purpose}: wrong key, or the value was altered or belongs to something else`);
  }
}

function parse(sealed: string): { iv: Buffer; tag: Buffer; ciphertext: Buffer } {
  const malformed = () => new CipherError('malformed', `not a sealed value (expected ${version}:<iv>:<tag>:<ciphertext>)`);
  if (typeof sealed !== 'string') throw malformed();
  const parts = sealed.split(':');
  if (parts.length !== 4 || parts[0] !== version || !parts.slice(1).every((p) => base64url.test(p))) throw malformed();
  const [iv, tag, ciphertext] = parts.slice(1).map(decode) as [Buffer | undefined, Buffer | undefined, Buffer | undefined];
  if (iv?.length !== ivLength || tag?.length !== tagLength || !ciphertext) throw malformed();
  return { iv, tag, ciphertext };
}

/** Strict base64url: Buffer.from() skips characters it does not know, so insist on a round trip. */
function decode(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

// The version is bound too, so a value can never be opened as if it were in another format.
const associatedData = (purpose: string) => Buffer.from(`tenantctl:${version}:${purpose}`, 'utf8');

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== keyLength) throw new Error(`a cipher key must be ${keyLength} bytes`);
}
