import { defaultPidsLimits, planResources } from './plans.js';
import type { Template } from './template.js';

// What a template's {{placeholders}} are filled with. Built in, for every template: the tenant
// (tenant_id, tenant_id_underscored, tenant_name, plan), the host (bind_address, subnet,
// health_interval), the ports (port.<name>), the configured images (image_app, image_postgres,
// image_redis) and the plan's limits (app_memory, db_memory, ..., pids_limit). Then the template's own
// variables: their default, or templates.variables.<template>.<name> from the config.

export interface TenantValues {
  id: string;
  name: string;
  plan: keyof typeof planResources;
  subnet: string;
  ports: Readonly<Record<string, number>>;
}

export interface HostValues {
  bindAddress: string;
  healthIntervalSeconds: number;
  images: Readonly<Record<string, string>>;
  /** templates.variables from the config: per template, per variable. */
  variables: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** plans.<plan>.pidsLimit from the config; unset: defaultPidsLimits. */
  pidsLimits?: Readonly<Partial<Record<keyof typeof planResources, number>>>;
}

/** Names a template's own variables may not take: tenantctl fills them itself. */
export function builtinNames(): Set<string> {
  return new Set(['tenant_id', 'tenant_id_underscored', 'tenant_name', 'plan', 'bind_address', 'subnet', 'health_interval', 'image_app', 'image_postgres', 'image_redis', ...Object.keys(planResources.standard), 'pids_limit']);
}

export function templateValues(template: Pick<Template, 'name' | 'block'>, tenant: TenantValues, host: HostValues): Record<string, string> {
  const overrides = host.variables[template.name] ?? {};
  const own = Object.fromEntries(Object.entries(template.block.variables).map(([name, v]) => [name, overrides[name] ?? v.default]));
  return {
    ...own,
    tenant_id: tenant.id,
    // Tenant ids may hold '-', which a PostgreSQL database or role name may not (unquoted).
    tenant_id_underscored: tenant.id.replaceAll('-', '_'),
    tenant_name: tenant.name,
    plan: tenant.plan,
    bind_address: host.bindAddress,
    subnet: tenant.subnet,
    health_interval: `${host.healthIntervalSeconds}s`,
    ...Object.fromEntries(Object.entries(host.images).map(([key, image]) => [`image_${key}`, image])),
    ...planResources[tenant.plan],
    pids_limit: String(host.pidsLimits?.[tenant.plan] ?? defaultPidsLimits[tenant.plan]),
    // A port of a profile that is off has no host port: 0 renders a valid file for a service that never starts.
    ...Object.fromEntries(Object.keys(template.block.ports).map((name) => [`port.${name}`, '0'])),
    ...Object.fromEntries(Object.entries(tenant.ports).map(([name, port]) => [`port.${name}`, String(port)])),
  };
}

/** Stand-in values for offline validation: each port at the start of its range. */
export function sampleTenant(template: Pick<Template, 'block'>): TenantValues {
  return {
    id: 'sample-tenant',
    name: 'Sample "Tenant": $HOME #1',
    plan: 'standard',
    subnet: '10.123.0.0/28',
    ports: Object.fromEntries(Object.entries(template.block.ports).map(([name, port]) => [name, port.range.from])),
  };
}

/** {{name}} in one of the block's own strings (a database name), filled from `values`. */
export function fillBlockText(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/g, (match, name: string) => values[name] ?? match);
}
