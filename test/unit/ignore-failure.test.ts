// The .catch handlers of src/common/ignore-failure.ts: a failure let go reads as undefined (or the
// value it means); a file that "need not be there" is only ENOENT, never a refused read.
import { readFile } from 'node:fs/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { failureMeans, ignoreFailure, missingMeans } from '../../src/common/ignore-failure.js';

const fails = () => Promise.reject(new Error('boom'));

describe('ignore-failure', () => {
  it('lets a failure go as undefined, and a success through', async () => {
    expect(await fails().catch(ignoreFailure('test: nothing depends on it'))).toBeUndefined();
    expect(await Promise.resolve(7).catch(ignoreFailure('test'))).toBe(7);
  });

  it('reads a failure as the value it means', async () => {
    expect(await fails().catch(failureMeans('unreachable', 'test: shown as such'))).toBe('unreachable');
  });

  it('takes only a missing file for missing: another failure is thrown', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tct-ignore-failure-'));
    expect(await readFile(path.join(dir, 'absent'), 'utf8').catch(missingMeans(undefined))).toBeUndefined();
    // Reading a directory fails with EISDIR: not "not there".
    await expect(readFile(dir, 'utf8').catch(missingMeans(undefined))).rejects.toMatchObject({ code: 'EISDIR' });
    writeFileSync(path.join(dir, 'here'), 'x');
    expect(await readFile(path.join(dir, 'here'), 'utf8').catch(missingMeans(undefined))).toBe('x');
    rmSync(dir, { recursive: true, force: true });
  });
});
