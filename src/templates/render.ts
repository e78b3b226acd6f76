import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { TemplateShow, TemplateSummary, TemplateValidation } from './commands.js';

// Human renderings of the templates commands; --json prints the same data.

export function renderTemplatesList({ templates }: { templates: TemplateSummary[] }): string {
  if (templates.length === 0) return 'No templates.';
  return table(
    ['NAME', 'SOURCE', 'DESCRIPTION', 'PORTS', 'PROFILES'],
    templates.map((t) => [
      `${t.name}${t.default ? ' (default)' : ''}`,
      t.shadowed ? chalk.yellow(`${t.source}, shadowed by the shipped one`) : t.problems ? chalk.red(`${t.source}, invalid`) : t.source,
      t.problems ? t.problems[0]! : t.description,
      t.ports.join(', ') || '-',
      t.profiles.join(', ') || '-',
    ]),
  );
}

export function renderTemplateShow(t: TemplateShow): string {
  const b = t.block;
  const lines = [
    `${t.name} (${t.source}): ${b.description}`,
    `  folder     ${t.dir}${t.initdb ? ' (initdb/)' : ''}${t.migrations ? ' (migrations/)' : ''}`,
    `  checksum   ${t.checksum}`,
    `  front door ${b.frontdoor ? `port ${b.frontdoor.port}` : '(none)'}`,
    `  migrations ${b.migrations ? `${b.migrations.database} as ${b.migrations.user} on ${b.migrations.service} (port ${b.migrations.port})` : '(none)'}`,
    '',
    table(['PORT', 'SERVICE', 'CONTAINER', 'RANGE'], Object.entries(b.ports).map(([name, p]) => [name, p.service, String(p.container), `${p.range.from}-${p.range.to}`])),
    '',
    table(['SECRET', 'LENGTH', 'ALPHABET'], Object.entries(b.secrets).map(([name, s]) => [name, String(s.length), s.alphabet])),
    '',
    table(['SERVICE', 'READINESS'], Object.entries(b.readiness).map(([service, check]) => [service, describeCheck(check)])),
  ];
  if (Object.keys(b.profiles).length > 0) lines.push('', table(['PROFILE (--with)', 'SERVICES', 'DESCRIPTION'], Object.entries(b.profiles).map(([name, p]) => [name, p.services.join(', '), p.description])));
  if (Object.keys(b.variables).length > 0) lines.push('', table(['VARIABLE', 'DEFAULT', 'DESCRIPTION'], Object.entries(b.variables).map(([name, v]) => [name, v.default, v.description])));
  return lines.join('\n');
}

function describeCheck(check: TemplateShow['block']['readiness'][string]): string {
  if ('http' in check) return `GET ${check.http.path} on port ${check.http.port} answers ${check.http.status}`;
  if ('tcp' in check) return `TCP connection on port ${check.tcp.port}`;
  if ('postgres' in check) return `PostgreSQL login as ${check.postgres.user} into ${check.postgres.database} (port ${check.postgres.port})`;
  if ('redis' in check) return `Redis AUTH + PING on port ${check.redis.port}${check.redis.key ? `, key ${check.redis.key} exists` : ''}`;
  if ('redisHttp' in check) return `Redis over HTTP: GET /PING with the token ${check.redisHttp.tokenSecret} (port ${check.redisHttp.port})`;
  return 'its container runs';
}

export function renderTemplateValidation(v: TemplateValidation): string {
  const valid = `${chalk.green('✓')} ${v.location} is a valid template: ${v.services} services with readiness, ports ${v.ports.join(', ') || '(none)'}, secrets ${v.secrets.join(', ') || '(none)'}${v.profiles.length > 0 ? `, profiles ${v.profiles.join(', ')}` : ''}`;
  return [valid, ...v.warnings.map((warning) => `${chalk.yellow('warning:')} ${warning}`)].join('\n');
}
