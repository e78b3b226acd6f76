// A template whose only state is PostgreSQL (physical backups take such a tenant whole): crm with
// its Redis declaring no state, in the test file's own port ranges (a template's own ranges are not
// moved by the test lanes, so they are taken from the file's lane-moved TENANTCTL_*_PORTS).
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const crmDir = path.join(import.meta.dirname, '..', '..', 'templates', 'crm');

/** Writes templates/pgonly under `dir`; returns the templates folder (for TENANTCTL_TEMPLATES_DIR). */
export function writePgOnlyTemplate(dir: string, env: Record<string, string | undefined>): string {
  const range = (name: string) => {
    const match = /^(\d+)-(\d+)$/.exec(env[name] ?? '');
    if (!match) throw new Error(`pgonly template: ${name} is not a from-to range (${env[name]})`);
    return `range: { from: ${match[1]}, to: ${match[2]} }`;
  };
  const crm = readFileSync(path.join(crmDir, 'docker-compose.tenant.yml'), 'utf8');
  const pgonly = crm.replace(/^    redis: \{ redis: \{ service: redis, passwordSecret: REDIS_PASSWORD, dir: \/data \} \}\n/m, '')
    .replace('REDIS_PASSWORD: { length: 32, alphabet: alphanumeric, applies: { redisPassword: { service: redis } } }', 'REDIS_PASSWORD: { length: 32, alphabet: alphanumeric }')
    .replace('range: { from: 3001, to: 3999 }', range('TENANTCTL_APP_PORTS'))
    .replace('range: { from: 5434, to: 5999 }', range('TENANTCTL_DB_PORTS'))
    .replace('range: { from: 6380, to: 6999 }', range('TENANTCTL_REDIS_PORTS'));
  if (/dir: \/data|redisPassword|from: 3001/.test(pgonly)) throw new Error('pgonly template: crm\'s template changed; this fixture no longer strips its Redis state');
  const templates = path.join(dir, 'templates');
  mkdirSync(path.join(templates, 'pgonly'), { recursive: true });
  cpSync(crmDir, path.join(templates, 'pgonly'), { recursive: true });
  writeFileSync(path.join(templates, 'pgonly', 'docker-compose.tenant.yml'), pgonly);
  return templates;
}
