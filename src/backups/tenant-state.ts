import type { Context } from '../context.js';
import type { AdminDb } from '../admin-db/database.js';
import { hostValuesOf } from '../templates/configured.js';
import { fillBlockText, templateValues, type TenantValues } from '../templates/values.js';
import type { Template } from '../templates/template.js';
import { TenantRegistry, type TenantRecord } from '../tenants/registry.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { requireComposeFile, tenantNamedSecretsFor, type Day2Target } from '../tenants/day2-target.js';
import { piecesOf, requirePieces, requireState, type Piece } from './pieces.js';

// What backup, restore, move and clone need of a tenant before they touch it: its template (which
// must declare state), its rendered compose file, its state pieces as they are for its profiles,
// and its secrets by the template's names.

export interface TenantState {
  template: Template;
  rendered: string;
  pieces: Piece[];
  secrets: Record<string, string>;
  values: TenantValues;
}

export async function tenantState(ctx: Context, db: AdminDb, t: Day2Target, verb: string): Promise<TenantState> {
  const template = await loadTenantTemplate(ctx, t.record);
  requireState(template.block, t.record.id, verb, template.name);
  const rendered = await requireComposeFile(t);
  const values = await tenantValuesOf(db, t.record);
  const pieces = piecesOf(ctx, template, rendered, { ...values, profiles: t.record.profiles });
  requirePieces(pieces, t.record.id, verb, template.name, t.record.profiles);
  const secrets = await tenantNamedSecretsFor(ctx, db, t, Object.keys(template.block.secrets));
  return { template, rendered, pieces, secrets, values };
}

/** The tenant's values for its template's placeholders (its ports by name from its allocations). */
export async function tenantValuesOf(db: AdminDb, record: TenantRecord): Promise<TenantValues> {
  const ports = await new TenantRegistry(db).portsOf(record);
  return { id: record.id, name: record.name, plan: record.plan as TenantValues['plan'], subnet: record.subnet ?? '', ports };
}

/** The database the template's migrations go into, rendered for the tenant (its dump must hold tenant_schema_migrations). */
export function migrationsDatabaseOf(ctx: Pick<Context, 'config'>, template: Template, record: Pick<TenantRecord, 'id' | 'name' | 'plan' | 'subnet'>): string | undefined {
  if (!template.block.migrations) return undefined;
  const values = templateValues(template, { id: record.id, name: record.name, plan: record.plan as TenantValues['plan'], subnet: record.subnet ?? '', ports: {} }, hostValuesOf(ctx.config));
  return fillBlockText(template.block.migrations.database, values);
}
