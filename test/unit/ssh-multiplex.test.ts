import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SshMultiplexer } from '../../src/stack/ssh-multiplex.js';

// ssh binds the master's socket as <ControlPath>.<16 random characters> before renaming it, and a
// unix socket path holds at most 107 bytes: a state dir that leaves no room for the suffix made
// every ssh:// host "not answer" (unix_listener: path too long).
const made: string[] = [];
afterEach(async () => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The master socket's longest path (ssh's temporary name) for a state dir of `length` bytes. */
async function longestSocketPath(length: number): Promise<string> {
  const base = mkdtempSync(path.join(tmpdir(), 'tct-ssh-'));
  made.push(base);
  const stateDir = path.join(base, 'x'.repeat(Math.max(1, length - base.length - 1)));
  const multiplexer = new SshMultiplexer({ baseDir: stateDir, searchPath: '/usr/bin', pid: 12345 });
  const dir = path.dirname(multiplexer.childPath().split(path.delimiter)[0]!);
  await multiplexer.close();
  return `${dir}/cm-${'f'.repeat(40)}.${'r'.repeat(16)}`;
}

describe('ssh master socket path', () => {
  it.each([20, 36, 40, 44, 60, 200])('fits in a unix socket with ssh\'s temporary suffix, for a state dir of %i bytes', async (length) => {
    expect(Buffer.byteLength(await longestSocketPath(length))).toBeLessThanOrEqual(107);
  });
});
