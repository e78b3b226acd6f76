import { customAlphabet } from 'nanoid';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';

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

/** KEY=value lines. Values are alphanumeric by construction; anything else is refused, not quoted. */
export function formatEnvFile(values: Record<string, string>, header: string): string {
  const lines = Object.entries(values).map(([key, value]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(key) || !/^[0-9A-Za-z._:/-]*$/.test(value)) throw new Error(`refusing to write ${key} to an env file: unsafe characters`);
    return `${key}=${value}`;
  });
  return `# ${header}\n${lines.join('\n')}\n`;
}

export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) values[match[1]!] = match[2]!;
  }
  return values;
}

/** Writes a file only its owner can read, whatever the umask, and whether or not it existed. */
export async function writePrivateFile(file: string, content: string, options: { exclusive?: boolean } = {}): Promise<void> {
  await writeFile(file, content, { mode: 0o600, flag: options.exclusive ? 'wx' : 'w' });
  await chmod(file, 0o600);
}

export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Reads existing tenant secrets (kept data needs the passwords it was created with), if complete. */
export async function readEnvFileSecrets(envFile: string): Promise<TenantSecrets | undefined> {
  let text: string;
  try {
    text = await readFile(envFile, 'utf8');
  } catch {
    return undefined;
  }
  const values = parseEnvFile(text);
  if (!secretNames.every((name) => secretPattern.test(values[name] ?? ''))) return undefined;
  return Object.fromEntries(secretNames.map((name) => [name, values[name]!])) as unknown as TenantSecrets;
}
