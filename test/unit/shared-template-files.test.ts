import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
// @ts-expect-error: a plain .mjs script (scripts/), no type declarations
import { renderSharedFile, root, sharedTemplateFiles, staleCopies } from '../../scripts/render-shared-template-files.mjs';

// crm and frontbase share their owner-role script (templates/_shared/): each template's copy must be
// what the shared source renders to, so a fix made in one copy only is caught here.
describe('files the shipped templates share', () => {
  it('every copy is rendered from its shared source', () => {
    expect(staleCopies()).toEqual([]);
    for (const { source, copies } of sharedTemplateFiles as Array<{ source: string; copies: string[] }>) {
      expect(copies.length).toBeGreaterThan(1);
      for (const copy of copies) expect(readFileSync(path.join(root, copy), 'utf8')).toContain(`Rendered from ${source}`);
    }
  });

  it('a copy edited by hand is reported stale', () => {
    const base = mkdtempSync(path.join(tmpdir(), 'tenantctl-shared-'));
    try {
      cpSync(path.join(root, 'templates'), path.join(base, 'templates'), { recursive: true });
      const copies = (sharedTemplateFiles as Array<{ copies: string[] }>)[0]!.copies;
      writeFileSync(path.join(base, copies[1]!), `${readFileSync(path.join(base, copies[1]!), 'utf8')}echo edited here\n`);
      expect(staleCopies(base)).toEqual([copies[1]]);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('keeps the #! line first', () => {
    expect(renderSharedFile('#!/bin/sh\necho hi\n', 'templates/_shared/x.sh')).toBe('#!/bin/sh\n# Rendered from templates/_shared/x.sh by scripts/render-shared-template-files.mjs: edit that file, then run it.\necho hi\n');
  });
});
