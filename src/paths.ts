import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package's own root (holds templates/, scripts/, docker-compose.local.yml), wherever tenantctl runs from. */
export const packageRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

export const defaultTemplatePath = path.join(packageRoot, 'templates', 'docker-compose.tenant.yml');
export const localComposeFile = path.join(packageRoot, 'docker-compose.local.yml');
export const scriptsDir = path.join(packageRoot, 'scripts');
