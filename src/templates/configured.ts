import type { Config } from '../config/schema.js';
import { defaultTemplatePath } from '../common/paths.js';
import { loadTemplate, loadTemplateAt } from './load.js';
import type { Template } from './template.js';
import type { HostValues } from './values.js';

// A template as this configuration uses it: found by name (shipped, or templates.directory), with
// the older single-template settings applied to the default template: templatePath
// (TENANTCTL_TEMPLATE, a compose file replacing its docker-compose.tenant.yml) and
// tenantMigrationsDir (TENANTCTL_TENANT_MIGRATIONS, replacing its migrations/).

export async function configuredTemplate(config: Config, name: string = config.templates.default): Promise<Template> {
  const template = await loadTemplate(name, { directory: config.templates.directory });
  if (name !== config.templates.default) return template;
  let result = template;
  if (config.templatePath !== defaultTemplatePath) {
    const file = await loadTemplateAt(config.templatePath, { name, source: 'file' });
    result = { ...result, composeFile: file.composeFile, text: file.text, block: file.block, checksum: file.checksum };
  }
  if (config.tenantMigrationsDir !== undefined) result = { ...result, migrationsDir: config.tenantMigrationsDir };
  return result;
}

/** What templates' placeholders take from the configuration. */
export function hostValuesOf(config: Config): HostValues {
  return { bindAddress: config.bindAddress, healthIntervalSeconds: config.healthIntervalSeconds, images: config.images, variables: config.templates.variables,
    pidsLimits: Object.fromEntries(Object.entries(config.plans).map(([plan, settings]) => [plan, settings.pidsLimit])) };
}

/**
 * Port ranges of the ports a tenant gets: the block's, with config ports.app/db/redis for crm (the
 * shape those settings describe); a port of a service whose profiles are all off is not reserved.
 */
export function portRangesOf(config: Config, template: Template, profiles: readonly string[]): Record<string, { from: number; to: number }> {
  const off = servicesOfProfilesOff(template, profiles);
  const ranges = Object.fromEntries(Object.entries(template.block.ports).filter(([, port]) => !off.has(port.service)).map(([name, port]) => [name, port.range]));
  if (template.name === 'crm') for (const name of ['app', 'db', 'redis'] as const) if (name in ranges) ranges[name] = config.ports[name];
  return ranges;
}

/** Services that run only in profiles that are off: not started, so their ports are not reserved. */
export function servicesOfProfilesOff(template: Pick<Template, 'block'>, profiles: readonly string[]): Set<string> {
  const on = new Set(Object.entries(template.block.profiles).filter(([name]) => profiles.includes(name)).flatMap(([, p]) => p.services));
  return new Set(Object.values(template.block.profiles).flatMap((p) => p.services).filter((service) => !on.has(service)));
}
