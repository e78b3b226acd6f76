import { writeFile } from 'node:fs/promises';
import { writeTemplateFiles } from '../tenants/files.js';
import { pruneSecretCopies, removeCopyDirsSince, secretCopyDirs, writeSecretFiles } from '../secrets/env-file.js';
import { secretCopiesOf } from '../templates/secret-copies.js';
import { reapOrphans } from '../stack/orphans.js';
import { parseDocument } from 'yaml';
import type { DockerHost } from '../engine/docker-host.js';
import type { Context } from '../context.js';
import { BatchFailure, TenantctlError, messageOf, usageError } from '../common/errors.js';
import { checksumOf } from '../common/sql-migrations.js';
import { ignoreFailure } from '../common/ignore-failure.js';
import { imageExists, postgresVersionOf } from '../engine/docker.js';
import { recordAudit } from '../audit/write.js';
import { parseOrUsage, parseTenantId, planSchema } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { requireComposeFile, requireTenantFor, tenantNamedSecretsFor, type Day2Target } from '../tenants/day2-target.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import type { Template } from '../templates/template.js';
import { loadTemplateAt } from '../templates/load.js';
import { assertValidTemplate } from '../templates/validate.js';
import { hostValuesOf } from '../templates/configured.js';
import { readyTargetOf, waitForTenantReady } from '../tenants/wait-ready.js';
import { describeDeployment, lastDeployment, recordDeployment, runningImages, type DeployedImage, type Deployment } from '../tenants/deployments.js';
import { holdTenant } from '../tenants/hold.js';
import { LostLockError } from '../admin-db/database.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { droppedVolumes } from './volumes.js';
import { asRecorded, upgradeSite, type UpgradeSite } from './site.js';
import { describeReown, planReown, reownVolumes, type VolumeReown } from './reown.js';

// `tenantctl upgrade <id>... [--all] [--image app=...] [--template ...] [--plan ...]`: the tenant's
// compose file rendered again (same ports, subnet, name; new images, template or plan), brought up
// with compose (which recreates only the services whose configuration or image changed; named
// volumes are never recreated) and waited for until ready. A tenant not ready by the deadline gets
// its last good state back: the compose file recorded then, with each service pinned to the image
// id it ran (kept under a per-tenant tag, tenantctl-rollback:<project>-<service>, so a moved tag or a prune cannot take it), and the upgrade reports exit 7
// "rolled back to ...". Secrets are never regenerated. Several tenants: the first is a canary; then
// --concurrency at a time; the first failure stops the rest unless --continue.
// A tenant on a swarm goes the same way, journaled alike: its stack deployed again (the new images
// copied to its node and pinned there), its tasks watched until each service runs its new spec,
// then readiness; its rollback deploys the recorded file on the pins of the image ids it ran (site.ts).

export interface UpgradeOptions {
  /**
   * New images by key: a configured image (app, postgres, redis: images.<key>) or one of the
   * template's own image variables (frontend for image_frontend); checked against the template.
   */
  images: Record<string, string>;
  templatePath?: string;
  plan?: string;
}

export interface UpgradeResult {
  id: string;
  /** upgraded: the new state is running and ready; unchanged: nothing differed; rolled-back only in errors. */
  outcome: 'upgraded' | 'unchanged';
  /** Services whose container compose recreated. */
  recreated: string[];
  from: { templateChecksum: string; plan: string; images: Record<string, DeployedImage> };
  to: { templateChecksum: string; plan: string; images: Record<string, DeployedImage> };
  durationMs: number;
}

export interface UpgradeBatchResult {
  kind: 'batch';
  verb: 'upgrade';
  canary: string;
  tenants: Array<{ id: string; ok: true; result: UpgradeResult } | { id: string; ok: false; error: { code: string; exitCode: number; message: string } }>;
  summary: { total: number; upgraded: number; unchanged: number; failed: number; skipped: number; durationMs: number };
}

/** `--image app=repo:tag` (repeatable) into { app: 'repo:tag' }; which keys a template has is checked per tenant. */
export function parseImageOverrides(values: string[] = []): Record<string, string> {
  const images: Record<string, string> = {};
  for (const value of values) {
    const match = /^([a-z][a-z0-9_]{0,55})=([A-Za-z0-9][A-Za-z0-9._\/:@-]{0,254})$/.exec(value);
    if (!match) throw usageError(`--image ${JSON.stringify(value)}: expected KEY=IMAGE, such as app=tenantctl/app:2025-02-01`);
    if (match[1]! in images) throw usageError(`--image ${match[1]} is given twice`);
    images[match[1]!] = match[2]!;
  }
  return images;
}

/**
 * The template's image keys: the configured images it uses ({{image_app}}: app) and its own image
 * variables (image_frontend: frontend). An override of a key it does not have is refused (exit 2)
 * rather than silently changing nothing.
 */
export function imageKeysOf(template: Pick<Template, 'name' | 'text' | 'block'>, configured: readonly string[]): string[] {
  const used = configured.filter((key) => new RegExp(`\\{\\{\\s*image_${key}\\s*\\}\\}`).test(template.text));
  const own = Object.keys(template.block.variables).filter((name) => name.startsWith('image_')).map((name) => name.slice('image_'.length));
  return [...new Set([...used, ...own])].sort();
}

/** The configuration the tenant renders with: overrides of configured images in images, of the template's own as its variables. */
function configWithImages(config: Context['config'], template: Pick<Template, 'name' | 'text' | 'block'>, id: string, images: Record<string, string>): Context['config'] {
  const keys = imageKeysOf(template, Object.keys(config.images));
  const unknown = Object.keys(images).filter((key) => !keys.includes(key));
  if (unknown.length > 0) throw usageError(`${id}: its template ${template.name} has no image ${unknown.join(', ')} (its images: ${keys.join(', ') || 'none'}); nothing was changed`);
  const configured = Object.fromEntries(Object.entries(images).filter(([key]) => key in config.images));
  const own = Object.fromEntries(Object.entries(images).filter(([key]) => !(key in config.images)).map(([key, image]) => [`image_${key}`, image]));
  return {
    ...config,
    images: { ...config.images, ...configured },
    templates: { ...config.templates, variables: { ...config.templates.variables, [template.name]: { ...config.templates.variables[template.name], ...own } } },
  };
}

export async function upgradeMany(
  ctx: Context,
  input: { ids: string[]; all?: boolean; options: UpgradeOptions; concurrency?: number; continueOnFailure?: boolean },
): Promise<UpgradeResult | UpgradeBatchResult> {
  const started = ctx.clock.now();
  if (input.all && input.ids.length > 0) throw usageError('give tenant ids or --all, not both');
  let ids = input.ids.map((id) => parseTenantId(id));
  if (new Set(ids).size !== ids.length) throw usageError('a tenant id is given twice');
  const concurrency = input.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) throw usageError('--concurrency: expected a whole number from 1 to 32');
  if (input.options.plan !== undefined) parseOrUsage(planSchema, input.options.plan, 'plan');
  if (input.all) {
    const active = (await new TenantRegistry(await ctx.adminDb()).list({ status: 'active' })).filter((t) => t.host === ctx.dockerHost.id);
    // --image keys a tenant's template has not: that tenant is left out of --all (said), not failed.
    const wanted = Object.keys(input.options.images);
    const fits = await Promise.all(active.map(async (t) => {
      if (wanted.length === 0) return true;
      const template = await loadTenantTemplate(ctx, t).catch(ignoreFailure('a template that cannot be loaded keeps its tenant in: the upgrade says why'));
      return template === undefined || wanted.every((key) => imageKeysOf(template, Object.keys(ctx.config.images)).includes(key));
    }));
    const left = active.filter((_, i) => !fits[i]).map((t) => t.id);
    if (left.length > 0) ctx.reporter.info(`left out (their template has no image ${wanted.join(', ')}): ${left.join(', ')}`);
    ids = active.filter((_, i) => fits[i]).map((t) => t.id);
    if (ids.length === 0) throw new TenantctlError('notFound', `no active tenant on Docker host ${ctx.dockerHost.id} to upgrade`);
  }
  if (ids.length === 0) throw usageError('give at least one tenant id, or --all');
  await requireImages(ctx, input.options);
  if (ids.length === 1 && !input.all) return upgradeTenant(ctx, ids[0]!, input.options);

  const results: UpgradeBatchResult['tenants'] = new Array(ids.length);
  let stop = false;
  const one = async (index: number) => {
    const id = ids[index]!;
    if (stop || ctx.signal.aborted) {
      results[index] = { id, ok: false, error: { code: 'skipped', exitCode: 0, message: ctx.signal.aborted ? 'not started: interrupted' : 'not started: an earlier tenant failed (--continue goes on)' } };
      return;
    }
    ctx.reporter.step(`upgrading ${id}${index === 0 ? ' (canary)' : ''}`);
    try {
      results[index] = { id, ok: true, result: await upgradeTenant(ctx, id, input.options) };
    } catch (error) {
      const typed = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error));
      results[index] = { id, ok: false, error: { code: typed.kind, exitCode: typed.exitCode, message: typed.message } };
      if (!input.continueOnFailure) stop = true;
    }
  };
  // The canary alone first: if it fails, no other tenant is touched (unless --continue).
  await one(0);
  let next = 1;
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length - 1) }, async () => {
    while (next < ids.length) await one(next++);
  }));
  const failed = results.filter((r) => !r.ok && r.error.code !== 'skipped').length;
  const skipped = results.filter((r) => !r.ok && r.error.code === 'skipped').length;
  const ok = results.filter((r): r is Extract<typeof r, { ok: true }> => r.ok);
  const result: UpgradeBatchResult = {
    kind: 'batch', verb: 'upgrade', canary: ids[0]!, tenants: results,
    summary: {
      total: ids.length, upgraded: ok.filter((r) => r.result.outcome === 'upgraded').length, unchanged: ok.filter((r) => r.result.outcome === 'unchanged').length,
      failed, skipped, durationMs: ctx.clock.now() - started,
    },
  };
  if (failed > 0 || skipped > 0) {
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', `interrupted: ${failed + skipped} of ${ids.length} tenants not upgraded`);
    throw new BatchFailure(result, `${failed} of ${ids.length} upgrades failed${skipped > 0 ? `, ${skipped} not started` : ''}`);
  }
  return result;
}

export async function upgradeTenant(ctx: Context, rawId: unknown, options: UpgradeOptions): Promise<UpgradeResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(rawId);
  const db = await ctx.adminDb();
  const unlock = await holdTenant(ctx, id);
  try {
    const t = await requireTenantFor(ctx, id, 'be upgraded', ['active']);
    const current = await requireComposeFile(t);
    const recorded = await loadTenantTemplate(ctx, t.record);
    const secrets = await tenantNamedSecretsFor(ctx, db, t, Object.keys(recorded.block.secrets));
    const project = t.record.composeProject;
    if (!t.record.subnet) throw new TenantctlError('conflict', `${id} has no subnet on record (tenantctl status ${id})`);
    // Where it runs: a compose project, or a swarm stack whose containers and pins are on its node (site.ts).
    const site = await upgradeSite(ctx, t);

    // The last good state: recorded by provision (or the last upgrade); a tenant from before that
    // has its running state recorded now, as the state to come back to.
    let good = await lastDeployment(db, id);
    if (!good) {
      const baseline = await describeDeployment(site.containers.dockerHost, { project, templateName: '(before deployments were recorded)', templateChecksum: checksumOf(''), plan: t.record.plan, composeFile: current, signal: ctx.signal });
      await db.withTransaction((client) => recordDeployment(db, client, id, 'upgrade', { ...baseline, images: asRecorded(baseline.images, current) }));
      good = (await lastDeployment(db, id))!;
    }
    // Keep the images it runs reachable whatever happens to their tags (a rebuilt :latest, a prune).
    await site.keep(project, good.images);

    // --template FILE: that compose file (with its x-tenantctl block) in place of the template's own.
    const file = options.templatePath === undefined ? undefined : await loadTemplateAt(options.templatePath, { name: recorded.name, source: 'file' });
    const template = file ? { ...recorded, composeFile: file.composeFile, text: file.text, block: file.block, checksum: file.checksum } : recorded;
    const plan = parseOrUsage(planSchema, options.plan ?? t.record.plan, 'plan');
    const config = configWithImages(ctx.config, template, id, options.images);
    assertValidTemplate(template, hostValuesOf(config));
    // Secrets are never regenerated: a new template that declares one the tenant has not got is refused.
    const newSecrets = Object.keys(template.block.secrets).filter((name) => !(name in secrets));
    if (newSecrets.length > 0) throw usageError(`${id}: the new template declares secret ${newSecrets.join(', ')}, which the tenant has not got (an upgrade never makes secrets); nothing was changed`);
    const { renderTenant } = await import('../tenants/provision.js');
    const rendered = renderTenant(template, {
      id, name: t.record.name, plan, ctx: { ...ctx, config },
      reservation: { ports: await new TenantRegistry(db).portsOf(t.record), subnet: t.record.subnet },
    });
    // A volume the tenant's data is in that the new render no longer mounts (renamed, dropped, moved
    // to another path or service) would bring the tenant up "ready" on empty data: refused.
    const dropped = droppedVolumes(current, rendered);
    if (dropped.length > 0) {
      throw usageError(`${id}: the new render no longer mounts ${dropped.join('; ')}: its data would be left behind and the tenant would start on empty volumes; keep the volumes' names and mount points in the template (an upgrade never moves data)`);
    }

    const before = await runningImages(site.containers.dockerHost, project, ctx.signal);
    const containersBefore = await site.containerIds(project);
    const newIds = await imageIds(ctx, site.imageSource, id, rendered);
    await refuseMajorPostgresChange(ctx, site, id, template, before, newIds);
    const sameImages = Object.entries(newIds).every(([service, imageId]) => before[service]?.id === imageId);
    if (rendered === current && sameImages) {
      // Nothing to change, and nothing claimed without proof: it is ready as it runs now.
      ctx.reporter.step(`${id} already runs this; proving it ready`);
      await waitForTenantReady(site.containers, await readyTargetOf(ctx, t.record, current, secrets, template));
      return { id, outcome: 'unchanged', recreated: [], from: summary(good), to: summary(good), durationMs: ctx.clock.now() - started };
    }

    // Volumes whose services will run as other numbers than their containers do now (reown.ts): planned before anything changes.
    const reown = await planReown(ctx, { containers: site.containers.dockerHost, imageSource: site.imageSource }, id, project, before, newIds, current, rendered, good.images);
    const journal = new OperationJournal(db);
    const op = await journal.begin<UpgradeIntent>({
      tenant: id, verb: 'upgrade', host: ctx.dockerHost.id,
      data: { templateName: template.name, templateChecksum: template.checksum, plan, rendered, goodRecordedAt: good.recordedAt, reown, copyDirsBefore: await secretCopyDirs(t.paths.secretsDir) },
    });
    ctx.reporter.step(site.kind === 'swarm'
      ? `deploying ${id}'s stack again with the new render (swarm replaces the tasks whose spec changed)`
      : `bringing ${id} up with the new render (compose recreates what changed)`);
    try {
      await ctx.pause('upgrade:begun');
      // The template's own files first (initdb/): a tenant from before its template mounted ./initdb has none.
      await writeTemplateFiles(t.paths, template.initdbDir ?? null);
      // Each non-root service's own copies of its secrets: a tenant provisioned before its
      // template named users (or moved to new uids) gets them here, before compose mounts them.
      await writeSecretFiles(t.paths.secretsDir, secrets, secretCopiesOf(rendered));
      await writeFile(t.paths.composeFile, rendered, { mode: 0o644 });
      await journal.step(op, 'file-written');
      if (reown.length > 0) {
        ctx.reporter.step(`stopping ${[...new Set(reown.flatMap((r) => r.services))].join(', ')} to give their volumes to the new images' users: ${describeReown(reown)}`);
        await reownVolumes(ctx, site.containers.dockerHost, id, reown, 'forward', (services) => site.stop(ctx, services));
        await journal.step(op, 'reowned');
        await ctx.pause('upgrade:reowned');
      }
      await site.bringUp(ctx, t);
      await journal.step(op, 'up');
      await ctx.pause('upgrade:compose-up');
      ctx.reporter.step('waiting until every service is ready');
      await waitForTenantReady(site.containers, await readyTargetOf(ctx, t.record, rendered, secrets, template));
      await journal.step(op, 'proven');
      await ctx.pause('upgrade:proven');
    } catch (error) {
      throw await rollBackAfterFailure(ctx, site, journal, op, t, good, secrets, error);
    }
    const containersAfter = await site.containerIds(project);
    const recreated = Object.keys(containersAfter).filter((s) => containersBefore[s] !== containersAfter[s]).sort();
    const deployment = await commitUpgrade(ctx, site, journal, op, t, good, recreated);
    return { id, outcome: 'upgraded', recreated, from: summary(good), to: summary(deployment), durationMs: ctx.clock.now() - started };
  } finally {
    await unlock();
  }
}

const summary = (d: Pick<Deployment, 'templateChecksum' | 'plan' | 'images'>) => ({ templateChecksum: d.templateChecksum, plan: d.plan, images: d.images });

/** What the journal holds of an upgrade: the render it brings up, and the good state it started from. */
export interface UpgradeIntent {
  templateName: string;
  templateChecksum: string;
  plan: string;
  rendered: string;
  /** When the last good deployment was recorded: a rollback goes back to it. */
  goodRecordedAt: string;
  /** Volumes handed to the new images' users after `file-written` (reown.ts), handed back by a rollback; absent in entries from before. */
  reown?: VolumeReown[];
  /** The secret copy folders (user-<uid>-<gid>/) before the upgrade wrote its own: a rollback removes only the ones it added; absent in entries from before. */
  copyDirsBefore?: string[];
}

/** What a rollback must hand back: the plan's volumes once the re-own may have begun (after `file-written` was recorded). */
const reownToUndo = (op: Operation<UpgradeIntent>): VolumeReown[] => (op.step === 'begun' ? [] : op.data.reown ?? []);

/** Proven ready: the new state is recorded (deployment, plan) in the transaction that closes the journal, and its images pinned. */
async function commitUpgrade(ctx: Context, site: UpgradeSite, journal: OperationJournal, op: Operation<UpgradeIntent>, t: Day2Target, good: Deployment, recreated: string[] = []): Promise<Deployment> {
  const db = journal.db;
  const id = op.tenant;
  const deployment: Deployment = {
    templateName: op.data.templateName, templateChecksum: op.data.templateChecksum, plan: op.data.plan,
    images: asRecorded(await runningImages(site.containers.dockerHost, t.record.composeProject, ctx.signal), op.data.rendered), composeFile: op.data.rendered,
  };
  await journal.finish(op, 'completed', null, async (client) => {
    await recordDeployment(db, client, id, 'upgrade', deployment);
    if (op.data.plan !== t.record.plan) await client.query('UPDATE admin_customers SET plan = $2, updated_at = now() WHERE id = $1', [id, op.data.plan]);
    await recordAudit(db, client, id, 'tenant.upgraded', summary(good), { ...summary(deployment), recreated });
  });
  // The new file is the one compose runs from now on (no rollback past this): the copies it no
  // longer mounts go (a uid the template changed). Best effort: the next writer of the secrets prunes too.
  await pruneSecretCopies(t.paths.secretsDir, secretCopiesOf(op.data.rendered)).catch(
    (problem) => ctx.reporter.info(`the upgrade is recorded; removing the secret copies it no longer mounts failed: ${messageOf(problem)} (the next rotate-secrets or upgrade tries again)`),
  );
  // The new state is the last good one now: its images kept, and on a swarm node the older pins go.
  await site.settle(ctx, t.record.composeProject, deployment.images).then(
    (note) => note && ctx.reporter.info(note),
    (problem) => ctx.reporter.info(`the upgrade is recorded; keeping its images or pruning older pins failed: ${messageOf(problem)} (the next upgrade tries again)`),
  );
  return deployment;
}

/**
 * The failing run rolls back to the last good state (even after Ctrl-C: a half-upgraded tenant is
 * worse than waiting); a lost lock changes nothing more. The error keeps the first cause, and says
 * whether the rollback worked; Ctrl-C stays exit 130 with the rollback's outcome in its details.
 */
async function rollBackAfterFailure(ctx: Context, site: UpgradeSite, journal: OperationJournal, op: Operation<UpgradeIntent>, t: Day2Target, good: Deployment & { recordedAt: string }, secrets: Readonly<Record<string, string>>, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  // Only under a lock still ours: another tenantctl may be working on the tenant now.
  if (first instanceof LostLockError || (await journal.db.locksProven())) {
    first.details.push(`the upgrade stopped at step ${op.step}; the next command on ${op.tenant} rolls it back from its journal`);
    return first;
  }
  if (op.step === 'proven') {
    // Proven ready before it failed (Ctrl-C at the last moment, the commit's transaction): recorded, never rolled back.
    const quiet = { ...ctx, signal: new AbortController().signal };
    await commitUpgrade(quiet, site, journal, op, t, good).then(
      () => first.details.push(`the upgrade had been proven ready: it was recorded`),
      (problem) => first.details.push(`recording the upgrade, proven ready, failed: ${messageOf(problem)}; the next command on ${op.tenant} records it`),
    );
    return first;
  }
  const outcome = await rollBack(ctx, site, t, good, secrets, first, reownToUndo(op), op.data.copyDirsBefore);
  if (outcome.rolledBack) await journal.finish(op, 'undone', first.message).catch((problem) => outcome.error.details.push(`closing the journal: ${messageOf(problem)}`));
  if (first.kind === 'interrupted') {
    first.details.push(outcome.error.message);
    return first;
  }
  return outcome.error;
}

/** Settles an upgrade a killed run left: recorded when it was proven ready, else rolled back to the last good state. */
export async function resumeUpgrade(ctx: Context, op: Operation<UpgradeIntent>): Promise<'finished' | 'undone'> {
  const db = await ctx.adminDb();
  const journal = new OperationJournal(db);
  const t = await requireTenantFor(ctx, op.tenant, 'have its upgrade settled', ['active']);
  // A killed run's deploy (compose, or docker stack deploy) may still be running: ended before
  // anything here touches the stack, so it cannot land after the rollback.
  await reapOrphans(ctx.dockerHost, t.record.composeProject, ctx.reporter.detail);
  const good = await lastDeployment(db, op.tenant);
  if (!good) throw new TenantctlError('conflict', `${op.tenant} has no recorded deployment to roll back to`);
  const site = await upgradeSite(ctx, t);
  if (op.step === 'proven') {
    await commitUpgrade(ctx, site, journal, op, t, good);
    return 'finished';
  }
  const secrets = await tenantNamedSecretsFor(ctx, db, t, Object.keys((await loadTenantTemplate(ctx, t.record)).block.secrets));
  const outcome = await rollBack(ctx, site, t, good, secrets, new TenantctlError('internal', `interrupted at step ${op.step}`), reownToUndo(op), op.data.copyDirsBefore);
  if (!outcome.rolledBack) throw outcome.error;
  await journal.finish(op, 'undone', `interrupted at step ${op.step}; rolled back by a later command`);
  return 'undone';
}


/**
 * The last good state back: its compose file with every service on the image id it ran (through
 * the pin tags), brought up and waited for; first, the volumes the upgrade gave to new owners
 * (`reown`) handed back to the old ones, their services stopped. Returns the error to report: the
 * upgrade's cause and "rolled back to ..." (exit 7), or, when the rollback fails too, both.
 */
async function rollBack(ctx: Context, site: UpgradeSite, t: Day2Target, good: Deployment & { recordedAt: string }, secrets: Readonly<Record<string, string>>, cause: unknown, reown: readonly VolumeReown[] = [], copyDirsBefore?: readonly string[]): Promise<{ error: TenantctlError; rolledBack: boolean }> {
  const id = t.record.id;
  const why = messageOf(cause);
  const target = `the state recorded at ${good.recordedAt} (template ${good.templateName} ${good.templateChecksum.slice(0, 12)}, plan ${good.plan}, ${Object.entries(good.images).map(([s, i]) => `${s} ${i.tag}@${i.id.replace(/^sha256:/, '').slice(0, 12)}`).join(', ')})`;
  ctx.reporter.step(`not ready: rolling ${id} back to its last good state`);
  // The rollback runs to its end even after Ctrl-C: a half-upgraded tenant is worse than waiting.
  const quiet = { ...ctx, signal: new AbortController().signal };
  try {
    if (reown.length > 0) {
      ctx.reporter.step(`giving the volumes back to the users of the images ${id} ran: ${describeReown(reown, 'back')}`);
      await reownVolumes(quiet, site.containers.dockerHost, id, reown, 'back', (services) => site.stop(quiet, services));
    }
    const pinned = await site.restore(quiet, t, good);
    await waitForTenantReady({ ...site.containers, signal: quiet.signal }, await readyTargetOf(quiet, t.record, pinned, secrets));
    const db = await ctx.adminDb();
    await db.withTransaction(async (client) => {
      await recordDeployment(db, client, id, 'rollback', { ...good, composeFile: pinned });
      await recordAudit(db, client, id, 'tenant.upgrade-rolled-back', { reason: why }, summary(good));
    });
    // The copy folders the upgrade wrote (a secret each, for numbers nothing runs as now) go; the good state's stay.
    if (copyDirsBefore) await removeCopyDirsSince(t.paths.secretsDir, copyDirsBefore).catch((problem) => ctx.reporter.info(`removing the failed upgrade's secret copies failed: ${messageOf(problem)}`));
    // The failed state's pins (a swarm node's) are not kept: the good state's are.
    await site.settle(quiet, t.record.composeProject, good.images).then((note) => note && ctx.reporter.info(note), (problem) => ctx.reporter.info(`pruning the failed upgrade's pins failed: ${messageOf(problem)}`));
  } catch (problem) {
    return {
      rolledBack: false,
      error: new TenantctlError('notReady', `${id}: the upgrade did not become ready (${why}), and rolling back to ${target} failed too: ${messageOf(problem)}`, {
        cause, details: [`the tenant's compose file is ${t.paths.composeFile}; tenantctl status ${id}; the journal keeps the upgrade: the next command on ${id} rolls it back again`],
      }),
    };
  }
  return { rolledBack: true, error: new TenantctlError('notReady', `${id}: the upgrade did not become ready (${why}); rolled back to ${target}, which is ready`, { cause }) };
}

/** The image id each service of a rendered file would run (by its reference, now); a missing image is named (exit 6). */
async function imageIds(ctx: Context, host: DockerHost, id: string, rendered: string): Promise<Record<string, string>> {
  const document = parseDocument(rendered, { merge: true }).toJS({ maxAliasCount: -1 }) as { services?: Record<string, { image?: string }> };
  const out: Record<string, string> = {};
  const missing: string[] = [];
  for (const [service, definition] of Object.entries(document.services ?? {})) {
    if (!definition.image) continue;
    if (!(await imageExists(host, definition.image))) missing.push(`${definition.image} (${service})`);
    else out[service] = (await host.docker(['image', 'inspect', '--format', '{{.Id}}', definition.image], { signal: ctx.signal })).trim();
  }
  if (missing.length > 0) throw new TenantctlError('docker', `${id}: image ${missing.join(', ')} is not on ${host === ctx.dockerHost ? 'this Docker host' : `${host.id} (a swarm's nodes get their images from it)`}; nothing was changed`);
  return out;
}

/** The images asked for by --image exist, before any tenant is touched (each tenant's render is checked again). */
async function requireImages(ctx: Context, options: UpgradeOptions): Promise<void> {
  // A swarm's nodes get their images from this machine's engine (deploys copy them): they must be there.
  const host = ctx.dockerHost.kind === 'swarm' ? ctx.dockerHost.thisMachine() : ctx.dockerHost;
  const missing: string[] = [];
  for (const image of new Set(Object.values(options.images))) if (!(await imageExists(host, image))) missing.push(image);
  if (missing.length > 0) throw new TenantctlError('docker', `image ${missing.join(', ')} is not on ${host === ctx.dockerHost ? 'this Docker host' : `${host.id} (a swarm's nodes get their images from it)`}; nothing was changed`);
}

/**
 * A new PostgreSQL major on an old data directory crash-loops: that takes backup and restore, not
 * a tag swap. Checked for every service holding a postgres state piece whose image changes.
 */
async function refuseMajorPostgresChange(ctx: Context, site: UpgradeSite, id: string, template: Pick<Template, 'block'>, running: Record<string, DeployedImage>, wanted: Record<string, string>): Promise<void> {
  const services = new Set(Object.values(template.block.state).flatMap((piece) => ('postgres' in piece ? [piece.postgres.service] : [])));
  // The running image is where the containers are (a swarm's node); the new one where renders are resolved.
  const major = async (host: DockerHost, ref: string) => /(\d+)(?:\.\d+)?/.exec(await postgresVersionOf(host, ref, ctx.signal))?.[1];
  for (const service of services) {
    const from = running[service]?.id;
    const to = wanted[service];
    if (!from || !to || from === to) continue;
    const [fromMajor, toMajor] = await Promise.all([major(site.containers.dockerHost, from), major(site.imageSource, to)]);
    if (fromMajor && toMajor && fromMajor !== toMajor) {
      throw usageError(`${id}: ${service} runs PostgreSQL ${fromMajor} and the new image is PostgreSQL ${toMajor}: a major version cannot take over the data directory; back up, provision on the new image, restore (tenantctl backup / restore --as)`);
    }
  }
}
