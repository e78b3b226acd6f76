import { customAlphabet } from 'nanoid';

// nanoid draws from the OS CSPRNG. An alphanumeric alphabet keeps secrets safe to place in
// connection URLs, .env files and shell commands without any quoting; 32 characters of 62 symbols
// is about 190 bits.
const alphanumeric = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const generateSecret = customAlphabet(alphanumeric, 32);
export const secretPattern = /^[0-9A-Za-z]{32,}$/;

export type TenantSecrets = {
  DB_PASSWORD: string;
  APP_DB_PASSWORD: string;
  REDIS_PASSWORD: string;
  JWT_SECRET: string;
};

export const secretNames = ['DB_PASSWORD', 'APP_DB_PASSWORD', 'REDIS_PASSWORD', 'JWT_SECRET'] as const;

/** A template's secrets by name: any names, each with its own length and alphabet. */
export type NamedSecrets = Record<string, string>;

const alphabets = {
  alphanumeric,
  hex: '0123456789abcdef',
  base64url: `${alphanumeric}-_`,
} as const;

/** What any generated secret looks like, whatever its alphabet: refuses garbage and truncation to nothing. */
export const anySecretPattern = /^[A-Za-z0-9_-]{16,128}$/;

/** One value per declared secret (a template's x-tenantctl.secrets), from the OS CSPRNG. */
export function generateSecrets(declared: Readonly<Record<string, { length: number; alphabet: keyof typeof alphabets }>>): NamedSecrets {
  return Object.fromEntries(Object.entries(declared).map(([name, d]) => [name, customAlphabet(alphabets[d.alphabet], d.length)()]));
}

export function generateTenantSecrets(): TenantSecrets {
  return { DB_PASSWORD: generateSecret(), APP_DB_PASSWORD: generateSecret(), REDIS_PASSWORD: generateSecret(), JWT_SECRET: generateSecret() };
}
