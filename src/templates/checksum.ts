import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * sha256 over a template folder: every regular file below it, in name order, as its relative path
 * and its contents. A changed initdb script or migration changes the checksum as much as the compose
 * file does, so the registry can tell which version of a template a tenant was made from.
 */
export async function templateChecksum(dir: string, files?: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const relative of (files ?? (await listFiles(dir))).sort()) {
    const content = await readFile(path.join(dir, relative));
    hash.update(`${relative}\0${content.length}\0`);
    hash.update(content);
  }
  return hash.digest('hex');
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = path.posix.join(prefix, entry.name);
    if (entry.isDirectory()) found.push(...(await listFiles(dir, relative)));
    else if (entry.isFile()) found.push(relative);
  }
  return found;
}
