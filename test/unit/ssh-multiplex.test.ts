import { lstatSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SshMultiplexer } from '../../src/engine/ssh-multiplex.js';

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

// When the state dir is too long for the socket, the directory goes to the shared temp dir. It used
// to be a fixed /tmp/tenantctl-ssh-<uid>/ accepted whoever made it; its bin/ is first on the docker
// CLI's PATH, so another user who made it first could put an `ssh` there that runs with our keys.
describe('the short directory in the shared temp dir', () => {
  const previousTmpdir = process.env.TMPDIR;
  afterEach(() => {
    if (previousTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmpdir;
  });

  it('is a fresh directory of this user\'s, mode 0700, never one that was already there', async () => {
    const shared = mkdtempSync(path.join(tmpdir(), 'tct-shared-'));
    made.push(shared);
    process.env.TMPDIR = shared; // os.tmpdir() reads it
    // What another user could have made in advance under the old fixed name: world-writable.
    const planted = path.join(shared, `tenantctl-ssh-${process.getuid!()}`);
    mkdirSync(planted, { mode: 0o777 });
    const stateDir = path.join(shared, 'x'.repeat(120));
    const dirs: string[] = [];
    for (const instance of [1, 2]) {
      const multiplexer = new SshMultiplexer({ baseDir: stateDir, searchPath: '/usr/bin', pid: 4242 + instance });
      const dir = path.dirname(multiplexer.childPath().split(path.delimiter)[0]!);
      dirs.push(dir);
      expect(path.dirname(dir)).toBe(shared);
      expect(dir.startsWith(planted + path.sep)).toBe(false);
      const info = lstatSync(dir);
      expect(info.isDirectory() && !info.isSymbolicLink()).toBe(true);
      expect(info.uid).toBe(process.getuid!());
      expect(info.mode & 0o777).toBe(0o700);
      await multiplexer.close();
      expect(() => lstatSync(dir)).toThrow(/ENOENT/);
    }
    expect(dirs[0]).not.toBe(dirs[1]);
  });
});
