import { readFile } from 'node:fs/promises';
import { parseEnvFile } from '../common/env-file.js';
import { secretNames, secretPattern, type TenantSecrets } from './generate.js';

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
