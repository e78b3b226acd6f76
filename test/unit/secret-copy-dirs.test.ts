import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeCopyDirsSince, secretCopyDirs } from '../../src/secrets/env-file.js';

// A rolled-back upgrade removes the secret copy folders it added (src/secrets/env-file.ts), only those.
const dir = mkdtempSync(path.join(tmpdir(), 'tenantctl-copy-dirs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('secret copy folders', () => {
  it('lists user-<uid>-<gid> folders and removes only those added since', async () => {
    for (const name of ['user-101-103', 'user-70001-70001', 'other']) mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, 'user-70001-70001', 'DB_PASSWORD'), 'x');
    writeFileSync(path.join(dir, 'env'), 'A=1\n');
    expect(await secretCopyDirs(dir)).toEqual(['user-101-103', 'user-70001-70001']);
    expect(await removeCopyDirsSince(dir, ['user-101-103'])).toEqual(['user-70001-70001']);
    expect(readdirSync(dir).sort()).toEqual(['env', 'other', 'user-101-103']);
    expect(await secretCopyDirs(path.join(dir, 'missing'))).toEqual([]);
  });
});
