import type { Context } from '../context.js';
import { BatchFailure, TenantctlError, usageError } from '../common/errors.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { recordAudit } from '../audit/write.js';
import { parseTenantId } from './input.js';
import { TenantRegistry } from './registry.js';
import { holdTenant } from './hold.js';
import { requireTenantFor } from './day2-target.js';
import { runBatch, type BatchItem } from './batch.js';
import { applyTenantSchema } from './schema.js';
import type { OwnerChange } from './owner-role.js';
import { conversionJournal, undoFailedConversion } from './owner-conversion.js';
import { loadTenantTemplate } from './tenant-template.js';
import { runtimeFor } from '../runtime/runtime-for.js';
import { fillBlockText, templateValues, type TenantValues } from '../templates/values.js';
import { hostValuesOf } from '../templates/configured.js';
import type { TenantRecord } from './registry.js';

// `tenantctl migrate <id>... | --all [--dry-run]`: the migrations of the tenant's template (its
// migrations/ directory) that its database does not have yet, applied in order over the published
// port to the template's migrations target (x-tenantctl.migrations: crm's tenant database as
// tenant_owner), each in its own transaction and recorded with its checksum. A file changed after it
// was applied is refused (exit 2), named, before anything is applied. --all takes the tenants whose
// template has migrations.

export interface MigrateResult {
  id: string;
  dryRun: boolean;
  /** Applied now (or, with --dry-run, that would be), in order. */
  migrations: string[];
  /** What became of an owner role that was a superuser (tenants/owner-role.ts): none, demoted, separated from the bootstrap role. */
  ownerChange: OwnerChange;
  /** What the old superuser owner left that still gives superuser rights (tenants/owner-leftovers.ts), for a person to judge. */
  ownerLeftovers: string[];
  durationMs: number;
}

export interface MigrateBatchResult {
  kind: 'batch';
  verb: 'migrate';
  dryRun: boolean;
  tenants: BatchItem<MigrateResult>[];
  summary: { total: number; ok: number; failed: number; durationMs: number };
}

export async function migrateMany(ctx: Context, input: { ids: string[]; all?: boolean; dryRun?: boolean }): Promise<MigrateResult | MigrateBatchResult> {
  const started = ctx.clock.now();
  const dryRun = input.dryRun === true;
  if (input.all && input.ids.length > 0) throw usageError('give tenant ids or --all, not both');
  let ids = input.ids.map((id) => parseTenantId(id));
  if (new Set(ids).size !== ids.length) throw usageError('a tenant id is given twice');
  if (input.all) {
    ids = (await withMigrations(ctx, (await new TenantRegistry(await ctx.adminDb()).list({ status: 'active' })).filter((t) => t.host === ctx.dockerHost.id))).map((t) => t.id);
    if (ids.length === 0) return { kind: 'batch', verb: 'migrate', dryRun, tenants: [], summary: { total: 0, ok: 0, failed: 0, durationMs: ctx.clock.now() - started } };
  }
  if (ids.length === 0) throw usageError('give at least one tenant id, or --all');
  if (ids.length === 1 && !input.all) return migrateTenant(ctx, ids[0]!, { dryRun });
  const items = await runBatch(ids, 1, (id) => {
    ctx.reporter.step(`${dryRun ? 'checking' : 'migrating'} ${id}`);
    return migrateTenant(ctx, id, { dryRun });
  }, ctx.signal);
  const failed = items.filter((i) => !i.ok).length;
  const result: MigrateBatchResult = { kind: 'batch', verb: 'migrate', dryRun, tenants: items, summary: { total: items.length, ok: items.length - failed, failed, durationMs: ctx.clock.now() - started } };
  if (failed > 0) {
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', `interrupted: ${failed} of ${items.length} tenants not migrated`);
    throw new BatchFailure(result, `${failed} of ${items.length} tenants failed to migrate; the others are done`);
  }
  return result;
}

export async function migrateTenant(ctx: Context, rawId: unknown, { dryRun = false }: { dryRun?: boolean } = {}): Promise<MigrateResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(rawId);
  const db = await ctx.adminDb();
  // A dry run only reads: it needs no lock (and is not refused while a backup runs).
  const unlock = dryRun ? async () => {} : await holdTenant(ctx, id);
  try {
    const t = await requireTenantFor(ctx, id, 'be migrated (its database must be running)', ['active']);
    const template = await loadTenantTemplate(ctx, t.record);
    const target = template.block.migrations;
    if (!target || !template.migrationsDir) throw usageError(`${id} cannot be migrated: its template ${template.name} has no migrations (x-tenantctl.migrations and a migrations/ directory)`);
    const ports = await new TenantRegistry(db).portsOf(t.record);
    const values = templateValues(template, { id, name: t.record.name, plan: t.record.plan as TenantValues['plan'], subnet: t.record.subnet ?? '', ports }, hostValuesOf(ctx.config));
    ctx.reporter.step(`${dryRun ? 'checking' : 'applying'} the tenant migrations of ${id}`);
    // Where its containers run (a swarm tenant's node); reached over the server's local socket through the engine.
    const containers = (await runtimeFor(ctx.dockerHost, t.target, ctx.signal)).containers;
    const schemaTarget = { host: containers, project: t.record.composeProject, service: target.service, owner: target.user, database: fillBlockText(target.database, values), superuserOwner: target.superuserOwner };
    // An owner conversion is journaled (tenants/owner-conversion.ts), and closed with its audit row once whole.
    const journal = dryRun ? undefined : conversionJournal(ctx, id, { project: schemaTarget.project, service: schemaTarget.service, owner: schemaTarget.owner ?? 'tenant_owner', database: schemaTarget.database ?? 'tenant' });
    let applied: Awaited<ReturnType<typeof applyTenantSchema>>;
    try {
      applied = await applyTenantSchema(
        schemaTarget,
        { clock: ctx.clock, deadlineMs: ctx.config.healthDeadlineSeconds * 1000, signal: ctx.signal },
        { dryRun, dir: template.migrationsDir, pause: ctx.pause, journal },
      );
    } catch (error) {
      const open = journal?.open();
      // Interrupted: left to the next command, like a kill. Failed: a conversion that did not commit is undone now.
      if (open && !ctx.signal.aborted) {
        try {
          await undoFailedConversion(ctx, open, error);
        } catch (undoError) {
          ctx.reporter.info(`the failed owner conversion of ${id} could not be undone now (${(undoError as Error).message}); the next command on ${id} settles it`);
        }
      }
      throw error;
    }
    const { migrations, ownerChange, ownerLeftovers } = applied;
    if (!dryRun && migrations.length > 0) {
      await db.withTransaction((client) => recordAudit(db, client, id, 'tenant.migrated', null, { migrations }));
    }
    return { id, dryRun, migrations, ownerChange, ownerLeftovers, durationMs: ctx.clock.now() - started };
  } finally {
    await unlock();
  }
}

/** The tenants whose template has migrations (a template that cannot be loaded keeps its tenant in, so migrate says why). */
async function withMigrations<T extends Pick<TenantRecord, 'id' | 'template'>>(ctx: Context, records: T[]): Promise<T[]> {
  const keep = await Promise.all(records.map(async (record) => {
    const template = await loadTenantTemplate(ctx, record).catch(ignoreFailure('a template that cannot be loaded keeps its tenant in, so migrate says why'));
    return template === undefined || (template.block.migrations !== undefined && template.migrationsDir !== undefined);
  }));
  return records.filter((_, i) => keep[i]);
}
