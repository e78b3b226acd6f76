// Pure parts of the backup repository (src/repository/, src/backups/retention.ts): where it is and
// what is shown of it, restic's failures by their first line, the sftp command restic runs, the
// retention flags, and the password file's rules (a real file in a temp dir).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseRepositoryLocation, redact } from '../../src/repository/location.js';
import { classifyResticError, firstErrorLine, parseJsonOutput, passwordFileLeft, passwordFileMaxAgeMs, sftpArgs } from '../../src/repository/restic.js';
import { readPasswordFile, repositoryKey } from '../../src/repository/password.js';
import { parseRetention, retentionFlags } from '../../src/backups/retention.js';
import { loadConfig } from '../../src/config/load.js';

describe('repository location', () => {
  it('takes a local path (made absolute), sftp and restic URLs; redacts credentials for display', () => {
    expect(parseRepositoryLocation('backups/repo', '/srv')).toEqual({ url: '/srv/backups/repo', display: '/srv/backups/repo', backend: 'local' });
    expect(parseRepositoryLocation('sftp:vault@host:/srv/restic')).toMatchObject({ url: 'sftp:vault@host:/srv/restic', backend: 'sftp' });
    const s3 = parseRepositoryLocation('s3:https://AKIA:s3cr3t@minio.example.com/bucket');
    expect(s3.url).toContain('s3cr3t');
    expect(s3.display).toBe('s3:https://AKIA:***@minio.example.com/bucket');
    expect(redact('rest:https://user:pw@host:8000/repo')).toBe('rest:https://user:***@host:8000/repo');
  });

  it('refuses an unknown backend, a malformed sftp location and an empty one, without echoing secrets', () => {
    expect(() => parseRepositoryLocation('ftp://u:secret@h/x')).toThrow(/unknown restic backend "ftp:"/);
    expect(() => parseRepositoryLocation('ftp://u:secret@h/x')).not.toThrow(/secret/);
    expect(() => parseRepositoryLocation('sftp:host-without-path')).toThrow(/sftp:user@host:\/path/);
    expect(() => parseRepositoryLocation('  ')).toThrow(/empty/);
  });

  it('is read from TENANTCTL_BACKUP_REPOSITORY, a local path resolved against the working directory', () => {
    const { config } = loadConfig({ cwd: '/work/here', env: { TENANTCTL_BACKUP_REPOSITORY: 'repo', TENANTCTL_BACKUP_SSH_KEY: 'id' } });
    expect(config?.backups).toMatchObject({ repository: '/work/here/repo', sshKey: '/work/here/id' });
    const sftp = loadConfig({ cwd: '/x', env: { TENANTCTL_BACKUP_REPOSITORY: 'sftp:a@b:/c' } });
    expect(sftp.config?.backups.repository).toBe('sftp:a@b:/c');
  });

  it('names a repository by a hash of its URL (no credentials in the settings key)', () => {
    const key = repositoryKey(parseRepositoryLocation('s3:https://AKIA:s3cr3t@h/b'));
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(key).not.toBe(repositoryKey(parseRepositoryLocation('s3:https://AKIA:other@h/b')));
  });
});

describe('restic failures', () => {
  it('maps the first error line to an exit code', () => {
    expect(classifyResticError('Fatal: wrong password or no key found')).toBe('usage');
    expect(classifyResticError('Fatal: unable to open config file: stat /r/config: no such file or directory')).toBe('notFound');
    expect(classifyResticError('unable to create lock in backend: repository is already locked exclusively by PID 12 on h')).toBe('conflict');
    expect(classifyResticError('Fatal: unable to open repository at sftp:x@y:/z: ssh: connection refused')).toBe('repository');
    // Not "no repository there" (repository init would restic init over it): permission, S3 access, I/O.
    expect(classifyResticError('Fatal: unable to open config file: Lstat /srv/r/config: file does not exist')).toBe('notFound');
    expect(classifyResticError('Fatal: unable to open config file: open /r/config: permission denied')).toBe('repository');
    expect(classifyResticError('Fatal: unable to open config file: Stat: Access Denied.')).toBe('repository');
    expect(classifyResticError('Fatal: unable to open config file: read /r/config: input/output error')).toBe('repository');
  });

  it('keeps the Fatal line, without terminal escapes', () => {
    expect(firstErrorLine(['\u001b[2Kscan finished', 'Fatal: wrong password or no key found', 'other'])).toBe('Fatal: wrong password or no key found');
    expect(firstErrorLine(['\u001b[2Ksignal interrupt received, cleaning up'])).toBe('signal interrupt received, cleaning up');
  });

  it('reads one JSON document, or the last line of several', () => {
    expect(parseJsonOutput<any>('[{"id":"a"}]', 'x')).toEqual([{ id: 'a' }]);
    expect(parseJsonOutput<any>('{"message_type":"status"}\n{"message_type":"summary","snapshot_id":"ab"}\n', 'x')).toMatchObject({ snapshot_id: 'ab' });
    expect(() => parseJsonOutput('oops', 'restic x')).toThrow(/printed no JSON/);
  });
});

describe('left password files', () => {
  it('go when their process is gone, or when older than any restic run even if their pid is alive again (reused)', () => {
    const alive = (pid: number) => pid === 77;
    expect(passwordFileLeft('pw-42-abcdef', 1000, 1, alive)).toBe(true);
    expect(passwordFileLeft('pw-77-abcdef', 1000, 1, alive)).toBe(false);
    expect(passwordFileLeft('pw-77-abcdef', passwordFileMaxAgeMs + 1, 1, alive)).toBe(true);
    expect(passwordFileLeft('pw-1-abcdef', 1000, 1, alive)).toBe(false);
    expect(passwordFileLeft('other', passwordFileMaxAgeMs + 1, 1, alive)).toBe(false);
  });
});

describe('sftp', () => {
  it('runs ssh with the configured key and known_hosts, in batch mode, only for sftp', () => {
    expect(sftpArgs('sftp:vault@10.0.0.2:/srv/r', { key: '/k/id', knownHosts: '/k/kh' })).toEqual([
      '-o', 'sftp.command=ssh -o BatchMode=yes -i /k/id -o IdentitiesOnly=yes -o UserKnownHostsFile=/k/kh -o StrictHostKeyChecking=yes vault@10.0.0.2 -s sftp',
    ]);
    expect(sftpArgs('sftp://vault@h:2222//srv/r', { key: '/k/id' })[1]).toBe('sftp.command=ssh -o BatchMode=yes -i /k/id -o IdentitiesOnly=yes -p 2222 vault@h -s sftp');
    expect(sftpArgs('/local/repo', { key: '/k/id' })).toEqual([]);
    expect(sftpArgs('sftp:v@h:/r', undefined)).toEqual([]);
    expect(() => sftpArgs('sftp:v@h:/r', { key: '/a b/id' })).toThrow(/without spaces/);
  });
});

describe('retention', () => {
  it('parses --keep-daily/weekly/monthly into restic flags; refuses nonsense and keep-nothing', () => {
    expect(parseRetention({})).toBeUndefined();
    expect(parseRetention({ daily: '7', weekly: '4' })).toEqual({ daily: 7, weekly: 4 });
    expect(retentionFlags({ daily: 7, weekly: 0, monthly: 12 })).toEqual(['--keep-daily', '7', '--keep-monthly', '12']);
    expect(retentionFlags({ last: 3 })).toEqual(['--keep-last', '3']);
    expect(() => parseRetention({ daily: 'x' })).toThrow(/--keep-daily "x"/);
    expect(() => parseRetention({ daily: '0', weekly: '0' })).toThrow(/keeps nothing/);
  });
});

describe('password file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-repo-pass-'));
  it('reads a 0600 file, dropping one trailing newline', async () => {
    const file = path.join(dir, 'ok');
    writeFileSync(file, 'p4ss word\n', { mode: 0o600 });
    expect(await readPasswordFile(file)).toBe('p4ss word');
  });
  it('refuses a file others may read, an empty one, and one of several lines', async () => {
    const open = path.join(dir, 'open');
    writeFileSync(open, 'x', { mode: 0o644 });
    await expect(readPasswordFile(open)).rejects.toThrow(/may be read by others \(mode 644\)/);
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '\n', { mode: 0o600 });
    await expect(readPasswordFile(empty)).rejects.toThrow(/is empty/);
    const lines = path.join(dir, 'lines');
    writeFileSync(lines, 'a\nb\n', { mode: 0o600 });
    await expect(readPasswordFile(lines)).rejects.toThrow(/more than one line/);
  });
});
