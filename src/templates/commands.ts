import path from 'node:path';
import type { Context } from '../context.js';
import { listTemplates, loadTemplateAt } from './load.js';
import { assertValidTemplate, templateProblems, templateWarnings } from './validate.js';
import { configuredTemplate, hostValuesOf } from './configured.js';
import type { TemplateBlock } from './block-schema.js';

// `tenantctl templates list | show <name> | validate <file-or-dir>`: offline, no Docker, no admin database.

export interface TemplateSummary {
  name: string;
  source: 'shipped' | 'operator';
  dir: string;
  description: string;
  ports: string[];
  profiles: string[];
  /** An operator template with a shipped name: the shipped one is used. */
  shadowed?: boolean;
  /** Why it cannot be used, when it cannot (its problems, as `path: message`). */
  problems?: string[];
  default: boolean;
}

export async function templatesList(ctx: Context): Promise<{ templates: TemplateSummary[] }> {
  const entries = await listTemplates({ directory: ctx.config.templates.directory });
  const templates = await Promise.all(entries.map(async (entry): Promise<TemplateSummary> => {
    const base = { name: entry.name, source: entry.source, dir: entry.dir, ...(entry.shadowed ? { shadowed: true } : {}), default: entry.name === ctx.config.templates.default && !entry.shadowed };
    try {
      const template = await loadTemplateAt(entry.dir, { name: entry.name, source: entry.source });
      const problems = templateProblems(template, hostValuesOf(ctx.config));
      return { ...base, description: template.block.description, ports: Object.keys(template.block.ports), profiles: Object.keys(template.block.profiles), ...(problems.length > 0 ? { problems } : {}) };
    } catch (error) {
      const details = (error as { details?: string[] }).details;
      return { ...base, description: '', ports: [], profiles: [], problems: details && details.length > 0 ? details : [(error as Error).message] };
    }
  }));
  return { templates };
}

export interface TemplateShow {
  name: string;
  source: string;
  dir: string;
  composeFile: string;
  checksum: string;
  initdb: boolean;
  migrations: boolean;
  block: TemplateBlock;
}

export async function templatesShow(ctx: Context, input: { name: string }): Promise<TemplateShow> {
  const template = await configuredTemplate(ctx.config, input.name);
  assertValidTemplate(template, hostValuesOf(ctx.config));
  return {
    name: template.name, source: template.source, dir: template.dir, composeFile: template.composeFile, checksum: template.checksum,
    initdb: template.initdbDir !== undefined, migrations: template.migrationsDir !== undefined, block: template.block,
  };
}

export interface TemplateValidation {
  location: string;
  name: string;
  valid: true;
  checksum: string;
  services: number;
  ports: string[];
  secrets: string[];
  profiles: string[];
  /** Services without the hardening every shipped template has (cap_drop, no-new-privileges, read_only, pids_limit): warned about, not refused. */
  warnings: string[];
}

/** A folder or a compose file, checked offline: exit 2 with every problem as `path: message` if it is not valid. */
export async function templatesValidate(ctx: Context, input: { location: string }): Promise<TemplateValidation> {
  const location = path.resolve(input.location);
  const template = await loadTemplateAt(location, { source: 'file' });
  assertValidTemplate(template, hostValuesOf(ctx.config));
  return {
    location, name: template.name, valid: true, checksum: template.checksum,
    services: Object.keys(template.block.readiness).length,
    ports: Object.keys(template.block.ports), secrets: Object.keys(template.block.secrets), profiles: Object.keys(template.block.profiles),
    warnings: templateWarnings(template, hostValuesOf(ctx.config)),
  };
}
