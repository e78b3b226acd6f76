import type { Context } from '../context.js';
import { TenantctlError, usageError } from '../common/errors.js';
import { parseOrUsage, parseTenantId, tenantNameSchema } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { requireTenantFor } from '../tenants/day2-target.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { requireState } from './pieces.js';
import { backupTenant } from './backup.js';
import { restore, type RestoreResult } from './restore.js';

// `tenantctl clone <id> --as <new-id> [--name N]`: a new tenant with a copy of a running tenant's
// data, made of the two verbs that keep the invariants already: a fresh backup of the source (kept,
// listed by `tenantctl backups`: the clone's origin, pruned by backup --keep like any other), then
// `restore --as` (provisioned first with its own passwords and initial API key, its own ports,
// subnet and hostname; API keys are never copied). Every refusal comes before the backup, so a bad
// input leaves nothing behind; a clone killed during its restore is undone by the next command on
// the new id, like any restore.

export interface CloneResult extends RestoreResult {
  /** The backup the clone was made from. */
  backup: string;
}

export async function cloneTenant(ctx: Context, input: { id: unknown; as: unknown; name?: unknown }): Promise<CloneResult> {
  const started = ctx.clock.now();
  const source = parseTenantId(input.id);
  if (input.as === undefined) throw usageError('--as <new-id> is required: the id of the new tenant');
  const target = parseTenantId(input.as);
  if (target === source) throw usageError(`--as ${target}: a clone needs an id of its own`);
  const name = input.name === undefined ? undefined : parseOrUsage(tenantNameSchema, input.name, 'name');

  // What restore --as would refuse, refused before a backup is made.
  const t = await requireTenantFor(ctx, source, 'be cloned (its services must run)', ['active']);
  requireState((await loadTenantTemplate(ctx, t.record)).block, source, 'be cloned', t.record.template);
  const existing = await new TenantRegistry(await ctx.adminDb()).get(target);
  if (existing && !['deprovisioned', 'failed'].includes(existing.status)) {
    throw new TenantctlError('conflict', `tenant ${target} exists (${existing.status}); a clone makes a new tenant: choose an id that is free`);
  }
  if (existing?.keptData) {
    throw new TenantctlError('conflict', `tenant ${target} was deprovisioned with its data kept; a clone would replace that data: choose another id, or \`tenantctl deprovision ${target} --yes\` to remove the kept data first`);
  }

  ctx.reporter.step(`backing up ${source}`);
  const backup = await backupTenant(ctx, source, { method: 'logical' });
  ctx.reporter.step(`restoring backup ${backup.id} as ${target}`);
  const restored = await restore(ctx, { id: source, from: backup.id, as: target, name: name ?? target });
  return { ...restored, backup: backup.id, durationMs: ctx.clock.now() - started };
}
