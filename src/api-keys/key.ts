import { createHash } from 'node:crypto';
import { customAlphabet } from 'nanoid';

// API keys for a tenant's API: `tk_live_` and 32 random alphanumerics (~190 bits from the CSPRNG,
// without modulo bias). Only the SHA-256 of a key is stored: a key is random, not a password, so
// a fast unsalted hash cannot be guessed backwards, and a lookup by hash stays one index probe.

export const apiKeyMarker = 'tk_live_';
const randomPart = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 32);

/** Characters shown in lists: the marker and 4 random characters, enough to tell keys apart. */
export const apiKeyPrefixLength = apiKeyMarker.length + 4;

export const apiKeyPattern = /^tk_live_[0-9A-Za-z]{32}$/;

export function generateApiKey(): string {
  return `${apiKeyMarker}${randomPart()}`;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function apiKeyPrefix(key: string): string {
  return key.slice(0, apiKeyPrefixLength);
}
