import { mkdir, writeFile, chmod } from 'node:fs/promises';

// Files and folders that hold secrets: readable by their owner only.

/** Writes a file only its owner can read, whatever the umask, and whether or not it existed. */
export async function writePrivateFile(file: string, content: string, options: { exclusive?: boolean } = {}): Promise<void> {
  await writeFile(file, content, { mode: 0o600, flag: options.exclusive ? 'wx' : 'w' });
  await chmod(file, 0o600);
}

export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}
