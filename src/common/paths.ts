import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The package's own root (holds templates/, scripts/, docker-compose.local.yml), wherever tenantctl
 * runs from. Found by walking up to tenantctl's package.json, because this code runs from src/
 * (tests), from dist/ and from dist/chunks/ (the bundle) at different depths.
 */
function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'tenantctl') return dir;
    if (path.dirname(dir) === dir) throw new Error(`tenantctl: cannot find its package.json above ${start}`);
  }
}

export const packageRoot = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** The shipped templates, one folder each (templates/<name>/: docker-compose.tenant.yml, initdb/, migrations/). */
export const shippedTemplatesDir = path.join(packageRoot, 'templates');
export const defaultTemplatePath = path.join(shippedTemplatesDir, 'crm', 'docker-compose.tenant.yml');
export const localComposeFile = path.join(packageRoot, 'docker-compose.local.yml');
export const scriptsDir = path.join(packageRoot, 'scripts');
