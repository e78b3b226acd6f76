import { describe, expect, it } from 'vitest';
import { writeFileSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { coarseTimestampKernel } from '../../src/backups/kernel-timestamps.js';
import { tarEntry } from '../../src/backups/tar-entry.js';
import { firstResticError, unreadFiles } from '../../src/backups/restic-unread.js';
import { fileLevelBlocker } from '../../src/backups/physical-files.js';
import { tempDir } from './temp-dirs.js';

// When a file-level physical backup is safe (the engine's kernel), the label put in front of the
// WAL tar, which files restic may leave unread (exit 3), and recover passing physical backups over.

describe('the kernel a file-level backup needs (multigrain timestamps, 6.13)', () => {
  it('takes 6.13 and later, refuses earlier kernels and an unknown version with the reason', () => {
    expect(coarseTimestampKernel('6.13.0-1-amd64')).toBeUndefined();
    expect(coarseTimestampKernel('6.18.44-fc-v1252\n')).toBeUndefined();
    expect(coarseTimestampKernel('7.0.1')).toBeUndefined();
    expect(coarseTimestampKernel('6.1.0-28-amd64')).toMatch(/kernel 6\.1 has coarse file timestamps \(before 6\.13\)/);
    expect(coarseTimestampKernel('5.15.0')).toMatch(/kernel 5\.15/);
    expect(coarseTimestampKernel('')).toMatch(/unknown/);
  });
});

describe('a tar entry made in memory', () => {
  it('is read by tar in front of another tar: name, content, mode and owner', () => {
    const dir = tempDir('tar-entry-');
    writeFileSync(path.join(dir, 'seg'), 'segment bytes');
    const rest = spawnSync('tar', ['--numeric-owner', '-C', dir, '-cf', '-', 'seg'], { maxBuffer: 1 << 20 });
    expect(rest.status).toBe(0);
    const label = 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nLABEL: x\n';
    const archive = Buffer.concat([tarEntry('backup_label', label, { uid: 999, gid: 998, mode: 0o600, mtime: 1_700_000_000 }), rest.stdout]);
    writeFileSync(path.join(dir, 'all.tar'), archive);
    const listed = spawnSync('tar', ['--numeric-owner', '-tvf', path.join(dir, 'all.tar')], { encoding: 'utf8' });
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^-rw------- 999\/998 +\d+ .* backup_label$/m);
    expect(listed.stdout).toMatch(/ seg$/m);
    const out = tempDir('tar-entry-out-');
    expect(spawnSync('tar', ['-C', out, '-xf', path.join(dir, 'all.tar')]).status).toBe(0);
    expect(readFileSync(path.join(out, 'backup_label'), 'utf8')).toBe(label);
    expect(statSync(path.join(out, 'backup_label')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(out, 'seg'), 'utf8')).toBe('segment bytes');
  });
});

const mount = '/tenantctl/acme/db.pgdata';
const vanished = (p: string, during = 'scan') => JSON.stringify({ message_type: 'error', error: { Op: 'lstat', Path: p, Err: 2 }, during, item: p });

describe('files restic left unread (exit 3)', () => {
  it('accepts files that vanished under the data folder (restic 0.14 --json lines, as seen)', () => {
    const r = unreadFiles([vanished(`${mount}/base/5/16384`), vanished(`${mount}/pg_xact/0000`, 'archival'), 'Warning: at least one source file could not be read'], mount);
    expect(r).toEqual({ files: ['base/5/16384', 'pg_xact/0000'], vanishedOnly: true });
  });
  it('refuses any other error, a vanished file outside the data folder and an error restic could not describe', () => {
    expect(unreadFiles([vanished(`${mount}/base/5/1`), JSON.stringify({ message_type: 'error', error: { Op: 'open', Path: `${mount}/base/5/2`, Err: 13 }, item: `${mount}/base/5/2` })], mount).vanishedOnly).toBe(false);
    expect(unreadFiles([vanished('/etc/passwd')], mount).vanishedOnly).toBe(false);
    expect(unreadFiles([JSON.stringify({ message_type: 'error', error: {}, item: `${mount}/base/5/2` })], mount).vanishedOnly).toBe(false);
    expect(unreadFiles(['Fatal: unable to save snapshot: disk full'], mount).vanishedOnly).toBe(false);
  });
  it("keeps restic's first real error line for the message", () => {
    expect(firstResticError([vanished(`${mount}/base/5/1`), 'Fatal: unable to open repository: permission denied', 'Warning: at least one source file could not be read', 'error: later echo'])).toBe('Fatal: unable to open repository: permission denied');
    expect(firstResticError([vanished(`${mount}/base/5/1`)])).toContain('base/5/1');
  });
});

describe('when a physical backup goes file by file', () => {
  const repo = (backend: string) => ({ forContainer: () => undefined, location: { backend } }) as never;
  const ctx = (kernel: string, backups: Record<string, string | undefined> = {}) => ({
    env: {}, signal: new AbortController().signal, config: { backups },
    dockerHost: {
      isLocal: true,
      run: async (argv: string[]) => argv[1] === 'info' ? { exitCode: 0, stdout: `${kernel}\n`, stderrTail: '' } : { exitCode: 0, stdout: 'sha256:x\n', stderrTail: '' },
    },
  }) as never;

  it('on a 6.13+ kernel with a local repository, or sftp with both ssh files', async () => {
    expect(await fileLevelBlocker(ctx('6.18.44'), repo('local'))).toBeUndefined();
    expect(await fileLevelBlocker(ctx('6.13.1', { sshKey: '/k', sshKnownHosts: '/kh' }), repo('sftp'))).toBeUndefined();
  });
  it('not on an older kernel, nor sftp without both ssh files, nor another backend: each says why', async () => {
    expect(await fileLevelBlocker(ctx('6.1.0-28-amd64'), repo('local'))).toMatch(/kernel 6\.1 has coarse file timestamps/);
    expect(await fileLevelBlocker(ctx('6.18.0', { sshKey: '/k' }), repo('sftp'))).toMatch(/backups\.sshKey and backups\.sshKnownHosts/);
    expect(await fileLevelBlocker(ctx('6.18.0'), repo('sftp'))).toMatch(/no ~\/\.ssh/);
    expect(await fileLevelBlocker(ctx('6.18.0'), repo('s3'))).toMatch(/s3 backend/);
  });
});
