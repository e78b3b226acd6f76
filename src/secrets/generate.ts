import { customAlphabet } from 'nanoid';

// nanoid draws from the OS CSPRNG. An alphanumeric alphabet keeps secrets safe to place in
// connection URLs, .env files and shell commands without any quoting; 32 characters of 62 symbols
// is about 190 bits.
const alphanumeric = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const generateSecret = customAlphabet(alphanumeric, 32);
export const secretPattern = /^[0-9A-Za-z]{32,}$/;

export interface TenantSecrets {
  DB_PASSWORD: string;
  APP_DB_PASSWORD: string;
  REDIS_PASSWORD: string;
  JWT_SECRET: string;
}

export const secretNames = ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'] as const;

export function generateTenantSecrets(): TenantSecrets {
  return { DB_PASSWORD: generateSecret(), APP_DB_PASSWORD: generateSecret(), REDIS_PASSWORD: generateSecret(), JWT_SECRET: generateSecret() };
}
