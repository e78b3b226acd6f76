// Files that are there but cannot be read are not "missing": the ACME account key is not replaced
// by a new account, and provision --show-secrets says why it shows no secrets instead of failing
// (or hiding it). Reading a directory (EISDIR) stands in for a refused read: these tests run as root.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TenantctlError, withNote } from '../../src/common/errors.js';
import { readAccountKey } from '../../src/frontdoor/acme/client.js';
import { readAllSecretFiles, readNamedSecretFiles, secretsToShow } from '../../src/secrets/env-file.js';
import { tempDir } from './temp-dirs.js';

const secret = 'a'.repeat(32);

describe('the ACME account key', () => {
  it('is undefined only when absent; one that cannot be read is a usage error naming the file', async () => {
    const dir = tempDir('tct-acme-key-');
    expect(await readAccountKey(path.join(dir, 'account.key'))).toBeUndefined();
    mkdirSync(path.join(dir, 'account.key'));
    const error = await readAccountKey(path.join(dir, 'account.key')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TenantctlError);
    expect(error).toMatchObject({ kind: 'usage', cause: { code: 'EISDIR' } });
    expect((error as Error).message).toMatch(/^cannot read \/.*\/account\.key \(the ACME account key; fix its permissions; it is not replaced\): EISDIR/);
    writeFileSync(path.join(dir, 'other.key'), 'PEM');
    expect(await readAccountKey(path.join(dir, 'other.key'))).toBe('PEM');
  });
});

describe('secret files', () => {
  it('reads named secrets; a missing one is undefined, an unreadable one an error', async () => {
    const dir = tempDir('tct-secrets-');
    writeFileSync(path.join(dir, 'DB_PASSWORD'), `${secret}\n`);
    expect(await readNamedSecretFiles(dir, ['DB_PASSWORD'])).toEqual({ DB_PASSWORD: secret });
    expect(await readNamedSecretFiles(dir, ['DB_PASSWORD', 'REDIS_PASSWORD'])).toBeUndefined();
    mkdirSync(path.join(dir, 'REDIS_PASSWORD'));
    await expect(readNamedSecretFiles(dir, ['DB_PASSWORD', 'REDIS_PASSWORD'])).rejects.toMatchObject({ kind: 'usage', message: expect.stringMatching(/^cannot read .*REDIS_PASSWORD \(fix its permissions/) });
  });

  it('--show-secrets: the secrets, or none and a warning that the tenant is active and why', async () => {
    const dir = tempDir('tct-show-secrets-');
    writeFileSync(path.join(dir, 'DB_PASSWORD'), secret);
    expect(await secretsToShow(dir)).toEqual({ secrets: { DB_PASSWORD: secret } });
    expect((await secretsToShow(path.join(dir, 'absent'))).secretsWarning).toMatch(/^the tenant is active, but its secrets are not shown: .*absent is missing/);
    // The folder itself unreadable (here: a file where the folder should be, ENOTDIR).
    expect(await readAllSecretFiles(path.join(dir, 'DB_PASSWORD')).catch((e: unknown) => e)).toMatchObject({ kind: 'usage', cause: { code: 'ENOTDIR' } });
    const folderWarning = await secretsToShow(path.join(dir, 'DB_PASSWORD'));
    expect(folderWarning.secrets).toBeUndefined();
    expect(folderWarning.secretsWarning).toMatch(/^the tenant is active, but its secrets are not shown: cannot read .*DB_PASSWORD \(fix its permissions.*ENOTDIR/);
    // One file unreadable: no partial list.
    mkdirSync(path.join(dir, 'REDIS_PASSWORD'));
    const fileWarning = await secretsToShow(dir);
    expect(fileWarning.secrets).toBeUndefined();
    expect(fileWarning.secretsWarning).toMatch(/cannot read .*REDIS_PASSWORD.*EISDIR/);
  });
});

describe('withNote (alerts add: a secret file left behind)', () => {
  it('adds the note to the first failure, keeping its kind and cause', () => {
    const cause = new Error('connection refused');
    const first = new TenantctlError('adminDb', 'cannot add the endpoint', { cause });
    const noted = withNote(first, '/x/secret is left behind (no endpoint has it; remove it): EACCES');
    expect(noted).toBe(first);
    expect(noted).toMatchObject({ kind: 'adminDb', cause, message: 'cannot add the endpoint; /x/secret is left behind (no endpoint has it; remove it): EACCES' });
    expect(withNote('thrown text', 'note')).toMatchObject({ kind: 'internal', cause: 'thrown text', message: 'thrown text; note' });
  });
});
