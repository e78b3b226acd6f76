// The usage log's rotator (images/nginx/rotate-usage) against a stand-in for nginx's master: a
// process that, on SIGUSR1, opens a new usage.log as nginx does, or ignores it as nginx's master
// does while it is stopping. Perl runs here as in the image (Debian's perl-base).
import { execa, type ResultPromise } from 'execa';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './temp-dirs.js';

const rotator = path.resolve(import.meta.dirname, '../../images/nginx/rotate-usage');
const running: ResultPromise[] = [];
afterEach(() => {
  for (const child of running.splice(0)) child.kill('SIGKILL');
});

/** A stand-in master: writes its pid file; on SIGUSR1 it reopens (creates usage.log) or does nothing. */
function standInMaster(dir: string, reopens: boolean) {
  const script = reopens
    ? `$SIG{USR1} = sub { open(my $f, '>>', "${dir}/usage.log"); close $f; }; sleep 1 while 1;`
    : `$SIG{USR1} = sub { }; sleep 1 while 1;`;
  const master = execa('perl', ['-e', script], { reject: false });
  running.push(master);
  writeFileSync(path.join(dir, 'nginx.pid'), `${master.pid}\n`);
  return master;
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const renamed = (dir: string) => readdirSync(dir).filter((n) => /^\d+(-\d+)?\.log$/.test(n));

describe('rotate-usage', () => {
  it('renames usage.log with lines to <second>.log once nginx has opened a new one', async () => {
    const dir = tempDir('tenantctl-rotate-');
    standInMaster(dir, true);
    writeFileSync(path.join(dir, 'usage.log'), '{"tenant":"acme"}\n');
    running.push(execa('perl', [rotator, dir, path.join(dir, 'nginx.pid')], { reject: false }));
    await until(() => renamed(dir).length === 1, 5_000);
    const [name] = renamed(dir);
    expect(Number(name!.split('.')[0])).toBeGreaterThan(Date.now() / 1000 - 10);
    expect(readFileSync(path.join(dir, name!), 'utf8')).toBe('{"tenant":"acme"}\n');
    // The new usage.log is empty: nothing more is renamed.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(renamed(dir)).toEqual([name]);
    expect(readFileSync(path.join(dir, 'usage.log'), 'utf8')).toBe('');
  }, 15_000);

  it('gives usage.log its name back when nginx does not reopen (a stopping master), so no line goes to a file the gateway deletes', async () => {
    const dir = tempDir('tenantctl-rotate-');
    standInMaster(dir, false);
    writeFileSync(path.join(dir, 'usage.log'), '{"tenant":"acme"}\n');
    running.push(execa('perl', [rotator, dir, path.join(dir, 'nginx.pid')], { reject: false }));
    // Each second it tries (renames, signals, waits 0.6 s, renames back): watch for 3 s.
    let sawRenamedFor = 0;
    const started = Date.now();
    while (Date.now() - started < 3_000) {
      if (!existsSync(path.join(dir, 'usage.log'))) sawRenamedFor += 20;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(sawRenamedFor).toBeGreaterThan(0); // it did try
    await until(() => existsSync(path.join(dir, 'usage.log')), 2_000);
    expect(readFileSync(path.join(dir, 'usage.log'), 'utf8')).toBe('{"tenant":"acme"}\n');
    // Between tries, nothing is left under a renamed name for the gateway to count and delete.
    await until(() => renamed(dir).length === 0, 2_000);
  }, 15_000);

  it('does nothing before nginx has written its pid file', async () => {
    const dir = tempDir('tenantctl-rotate-');
    writeFileSync(path.join(dir, 'usage.log'), '{"tenant":"acme"}\n');
    running.push(execa('perl', [rotator, dir, path.join(dir, 'nginx.pid')], { reject: false }));
    await new Promise((r) => setTimeout(r, 2_500));
    expect(renamed(dir)).toEqual([]);
    expect(readFileSync(path.join(dir, 'usage.log'), 'utf8')).toBe('{"tenant":"acme"}\n');
  }, 15_000);
});
