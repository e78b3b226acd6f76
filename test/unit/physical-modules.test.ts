import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { modulesOfDocument, modulesToSet, readRecorded, tenantDocumentCapBytes, tenantDocumentEntry } from '../../src/pitr/backup-document.js';

// A physical restore sets the tenant's modules back to those its backup's tenant.json recorded:
// what of that file goes into the restore's intent, and what is refused before anything is recorded.

describe('the modules a physical backup records', () => {
  it('keeps each module\'s key and on/off, nothing else of it', () => {
    const document = { modules: [{ key: 'ai_assistant', enabled: true, name: 'AI', monthlyPrice: 20 }, { key: 'sso', enabled: false }] };
    expect(modulesOfDocument('b1', document as never)).toEqual([{ key: 'ai_assistant', enabled: true }, { key: 'sso', enabled: false }]);
  });

  it('none recorded is none to set (the modules are left as they are)', () => {
    expect(modulesOfDocument('b1', {} as never)).toEqual([]);
    expect(modulesOfDocument('b1', { modules: [] })).toEqual([]);
  });

  it('refuses (exit 2, nothing changed) a list that is not of {key, enabled}', () => {
    for (const modules of ['ai_assistant', { ai_assistant: true }, [null], [{ key: 'sso' }], [{ key: 'sso', enabled: 'yes' }], [{ key: '', enabled: true }], [{ key: 7, enabled: true }]]) {
      let thrown: unknown;
      try {
        modulesOfDocument('b1', { modules } as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(modules)).toMatchObject({ kind: 'usage', message: expect.stringMatching(/^backup b1 is unusable: its tenant\.json.*nothing was changed$/) });
    }
  });

  it('refuses (exit 2) a module listed twice: there is no one state to set back', () => {
    for (const modules of [[{ key: 'sso', enabled: true }, { key: 'sso', enabled: false }], [{ key: 'sso', enabled: true }, { key: 'ai_assistant', enabled: true }, { key: 'sso', enabled: true }]]) {
      expect(() => modulesOfDocument('b1', { modules })).toThrow(expect.objectContaining({ kind: 'usage', message: 'backup b1 is unusable: its tenant.json lists module "sso" more than once; nothing was changed' }));
    }
  });

  it('a finished restore sets only a physical restore\'s recorded modules; a to-time restore\'s, or an intent of older code, leaves them', () => {
    const modules = [{ key: 'ai_assistant', enabled: true }];
    const physical = { backup: 'b1', snapshotId: 's', file: '/f', bytes: 1 };
    expect(modulesToSet({ physical, modules })).toEqual(modules);
    expect(modulesToSet({ physical, modules: [] })).toEqual([]);
    expect(modulesToSet({ physical })).toBeUndefined();
    expect(modulesToSet({ modules })).toBeUndefined();
  });
});

// The repository is not trusted: tenant.json is read only up to the size its manifest recorded, that
// size at most a small cap, and hashed as it comes.
describe('reading a physical backup\'s tenant.json', () => {
  const text = JSON.stringify({ record: { plan: 'starter' }, modules: [] });
  const entry = { bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
  const refused = (why: RegExp) => expect.objectContaining({ kind: 'usage', message: expect.stringMatching(new RegExp(`^backup b1 is unusable: ${why.source}; nothing was changed$`)) });

  it('a recorded size over the cap is refused before anything is read', () => {
    expect(tenantDocumentEntry('b1', { files: { 'tenant.json': entry } })).toEqual(entry);
    expect(tenantDocumentEntry('b1', { files: { 'tenant.json': { ...entry, bytes: tenantDocumentCapBytes } } }).bytes).toBe(tenantDocumentCapBytes);
    expect(() => tenantDocumentEntry('b1', { files: { 'tenant.json': { ...entry, bytes: tenantDocumentCapBytes + 1 } } })).toThrow(refused(/its manifest records tenant\.json as 1048577 bytes, more than the 1048576 .*/));
    for (const bad of [undefined, { sha256: entry.sha256 }, { ...entry, bytes: -1 }, { ...entry, bytes: 1.5 }, { ...entry, bytes: '10' }, { bytes: 10 }]) {
      expect(() => tenantDocumentEntry('b1', { files: { 'tenant.json': bad } } as never), JSON.stringify(bad)).toThrow(refused(/its manifest records no size and SHA-256 for tenant\.json/));
    }
  });

  it('the recorded bytes are read whole and hashed as they come', async () => {
    const buf = Buffer.from(text);
    await expect(readRecorded('b1', Readable.from([buf.subarray(0, 5), buf.subarray(5)]), entry)).resolves.toBe(text);
  });

  it('stops at the first byte past the recorded size, without reading the rest', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        pulled += 1;
        yield Buffer.alloc(64 * 1024, 0x20);
      }
    }
    await expect(readRecorded('b1', endless(), entry)).rejects.toThrow(refused(/its tenant\.json is longer than the \d+ bytes its manifest recorded/));
    expect(pulled).toBe(1);
  });

  it('a shorter file, or other bytes of the same size, are refused', async () => {
    await expect(readRecorded('b1', Readable.from([Buffer.from(text.slice(0, -1))]), entry)).rejects.toThrow(refused(/its tenant\.json is \d+ bytes, and its manifest recorded \d+ \(truncated\?\)/));
    await expect(readRecorded('b1', Readable.from([Buffer.from(text.replace('starter', 'premium'))]), entry)).rejects.toThrow(refused(/its tenant\.json has SHA-256 [0-9a-f]{64}, and its manifest recorded [0-9a-f]{64}/));
  });
});
