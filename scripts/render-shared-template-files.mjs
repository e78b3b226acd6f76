#!/usr/bin/env node
// Files two shipped templates share, kept in one place (templates/_shared/, which is no template:
// its name does not start with a letter and it has no docker-compose.tenant.yml) and rendered into
// each template that uses them, so every template folder stays whole by itself (an operator copies
// one folder; the template's checksum covers what its tenants get).
//
//   node scripts/render-shared-template-files.mjs           writes the copies
//   node scripts/render-shared-template-files.mjs --check   exit 1 when a copy differs (CI; test/unit/shared-template-files.test.ts)
//
// A copy is the source with one line after its first (the `#!`) saying where it comes from.
import { readFileSync, writeFileSync, chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Each shared source (relative to the repository) and the template files rendered from it. */
export const sharedTemplateFiles = [
  {
    source: 'templates/_shared/initdb/00-create-owner-role.sh',
    copies: ['templates/crm/initdb/00-create-owner-role.sh', 'templates/frontbase/initdb/00-create-owner-role.sh'],
  },
];

/** The copy's content for a source's content. */
export function renderSharedFile(sourceText, source) {
  const note = `# Rendered from ${source} by scripts/render-shared-template-files.mjs: edit that file, then run it.`;
  const newline = sourceText.indexOf('\n');
  if (!sourceText.startsWith('#!') || newline < 0) return `${note}\n${sourceText}`;
  return `${sourceText.slice(0, newline + 1)}${note}\n${sourceText.slice(newline + 1)}`;
}

/** The copies that differ from what their source renders to (relative paths). */
export function staleCopies(base = root) {
  const stale = [];
  for (const { source, copies } of sharedTemplateFiles) {
    const wanted = renderSharedFile(readFileSync(path.join(base, source), 'utf8'), source);
    for (const copy of copies) {
      let have;
      try { have = readFileSync(path.join(base, copy), 'utf8'); } catch { have = undefined; }
      if (have !== wanted) stale.push(copy);
    }
  }
  return stale;
}

function main(args) {
  if (args.includes('--check')) {
    const stale = staleCopies();
    if (stale.length > 0) {
      console.error(`not rendered from templates/_shared/: ${stale.join(', ')} (run node scripts/render-shared-template-files.mjs)`);
      process.exit(1);
    }
    return;
  }
  for (const { source, copies } of sharedTemplateFiles) {
    const from = path.join(root, source);
    const wanted = renderSharedFile(readFileSync(from, 'utf8'), source);
    for (const copy of copies) {
      writeFileSync(path.join(root, copy), wanted);
      chmodSync(path.join(root, copy), statSync(from).mode & 0o777);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
