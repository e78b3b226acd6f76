import type { Context } from '../context.js';
import { messageOf } from '../common/errors.js';
import { TenantRegistry, type TenantRecord } from '../tenants/registry.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { holdTenant } from '../tenants/hold.js';
import { pruneBackups } from '../backups/prune.js';
import { pruneRepositoryBackups } from '../backups/retention.js';
import { configuredRepository } from '../repository/location.js';
import type { Config } from '../config/schema.js';
import { doctor } from '../doctor/doctor.js';
import { scheduledBackup } from './scheduled-backup.js';
import { pitrBaseBackup, pitrOn } from '../pitr/backup.js';
import { OperationJournal } from '../operations/journal.js';
import { certificateRenewalJob } from './certificate-renewal.js';
import { doctorFindingsAlert } from './alerts.js';
import { raiseAlert } from '../alerts/raise.js';

/**
 * The pending operations an agent's job may settle itself (holdTenant does, before its work): its own
 * kinds. An operator's restore, move, upgrade ... is settled by the operator's next command, with the
 * operator's role; the agent's role cannot (and must not) undo it, so the tenant is skipped.
 */
export const agentSettles: readonly string[] = ['scheduled-backup', 'backup-prune'];
import type { RunOutcome, Schedule, ScheduleRun, ScheduleStore } from './store.js';

// What each kind of schedule does when its run is claimed: tenantctl's own verbs, called in the
// agent's process (backupTenant, pruneBackups, doctor), one tenant at a time. A tenant's failure
// is recorded in the run and the others go on; the run fails when any tenant failed.

const tenantCount = (n: number) => `${n} ${n === 1 ? 'tenant' : 'tenants'}`;

export interface JobOutcome {
  outcome: RunOutcome;
  summary: string;
  error: string | null;
  /** It stopped before reaching every tenant (the agent stopped, or lost the lead): its next run is due at once. */
  interrupted?: boolean;
  /** The job raised its failure's alert itself (the certificate renewal's, per certificate): the scheduler raises none. */
  alerted?: boolean;
}

export async function runJob(ctx: Context, store: ScheduleStore, schedule: Schedule, run: ScheduleRun): Promise<JobOutcome> {
  switch (schedule.kind) {
    case 'backup': return backupPlan(ctx, store, schedule, run);
    case 'retention': return retainPlan(ctx, store, schedule, run);
    case 'doctor': return doctorReport(ctx, store, schedule, run);
    case 'certificate-renewal': return certificateRenewalJob(ctx, ctx.dockerHost.id);
    case 'admin-backup': return adminBackupJob(ctx, store, run);
  }
}

/** The plan's tenants on this host that are `statuses`. */
async function tenantsOfPlan(ctx: Context, plan: string, statuses: readonly string[]): Promise<TenantRecord[]> {
  const all = await new TenantRegistry(await ctx.adminDb()).list();
  return all.filter((t) => t.plan === plan && t.host === ctx.dockerHost.id && statuses.includes(t.status));
}

async function eachTenant(
  ctx: Context, store: ScheduleStore, run: ScheduleRun, tenants: TenantRecord[], verb: string,
  work: (tenant: TenantRecord) => Promise<string | undefined>,
): Promise<JobOutcome> {
  const done: Record<string, string> = {};
  const failed: Record<string, string> = {};
  const skipped: Record<string, string> = {};
  const journal = new OperationJournal(await ctx.adminDb());
  for (const tenant of tenants) {
    if (ctx.signal.aborted) break;
    try {
      const pending = await journal.pending(tenant.id);
      if (pending && !agentSettles.includes(pending.verb)) {
        skipped[tenant.id] = `its ${pending.verb} (operation ${pending.id}) is pending: the operator's next command on it settles it`;
        await store.note(run.id, { done, failed, skipped });
        continue;
      }
      const what = await work(tenant);
      if (what !== undefined) done[tenant.id] = what;
    } catch (error) {
      failed[tenant.id] = messageOf(error);
    }
    await store.note(run.id, { done, failed, skipped });
  }
  const left = tenants.length - Object.keys(done).length - Object.keys(failed).length - Object.keys(skipped).length;
  const skips = Object.entries(skipped).map(([id, why]) => `${id} skipped: ${why}`);
  const summary = `${verb} ${Object.keys(done).length} of ${tenantCount(tenants.length)}${Object.keys(failed).length ? `, ${Object.keys(failed).length} failed` : ''}${skips.length ? `, ${skips.length} skipped (${skips.join('; ')})` : ''}${left > 0 && ctx.signal.aborted ? `, ${left} not reached (the agent stopped)` : ''}`;
  const errors = Object.entries(failed).map(([id, why]) => `${id}: ${why}`);
  // Stopped (agent stop, lost lead): a tenant it failed because of that, or did not reach, is backed up soon.
  const interrupted = ctx.signal.aborted;
  if (interrupted && left > 0) errors.push(`${left} tenants not reached: the agent stopped`);
  return { outcome: errors.length ? 'failed' : 'succeeded', summary, error: errors.length ? errors.join('; ') : null, interrupted };
}

async function backupPlan(ctx: Context, store: ScheduleStore, schedule: Schedule, run: ScheduleRun): Promise<JobOutcome> {
  const active = await tenantsOfPlan(ctx, schedule.target, ['active']);
  // As `backup --all`: tenants whose template declares no state have nothing to back up.
  const stateful = (await Promise.all(active.map(async (t) => ((await loadTenantTemplate(ctx, t).then((tpl) => Object.keys(tpl.block.state).length > 0, () => true)) ? t : undefined))))
    .filter((t): t is TenantRecord => t !== undefined);
  return eachTenant(ctx, store, run, stateful, 'backed up', async (t) => {
    const id = (await scheduledBackup(ctx, t.id, { schedule: schedule.id, run: run.id })).id;
    // A plan with point-in-time recovery: a physical base backup too, as `backup` takes (src/pitr).
    if (!pitrOn(ctx, t.plan)) return id;
    const { base } = await pitrBaseBackup(ctx, t.id);
    return `${id} (pitr base ${base.snapshotId.slice(0, 8)})`;
  });
}

async function retainPlan(ctx: Context, store: ScheduleStore, schedule: Schedule, run: ScheduleRun): Promise<JobOutcome> {
  const keep = schedule.keep ?? Number.MAX_SAFE_INTEGER;
  const tenants = await tenantsOfPlan(ctx, schedule.target, ['active', 'stopped']);
  // With a backup repository: restic's rules (plans.<plan>.backupRetention, else backupKeep as --keep-last) over each tenant's succeeded backups.
  const retention = configuredRepository(ctx.config) ? ctx.config.plans[schedule.target as keyof Config['plans']]?.backupRetention ?? (schedule.keep ? { last: schedule.keep } : undefined) : undefined;
  const what = retention ? `retention ${Object.entries(retention).map(([k, n]) => `${k} ${n}`).join(', ')}:` : `pruned to the newest ${keep} backups:`;
  return eachTenant(ctx, store, run, tenants, what, async (t) => {
    const release = await holdTenant(ctx, t.id);
    try {
      const db = await ctx.adminDb();
      if (!retention && schedule.keep === null) return 'nothing to remove (no backupKeep, and backupRetention applies to a repository only)';
      const removed = retention ? await pruneRepositoryBackups(ctx, db, t.id, retention) : await pruneBackups(ctx, db, t.id, keep);
      return removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove';
    } finally {
      await release();
    }
  });
}

/** The admin database into the repository: one snapshot, recorded in the run (a failure is the run's, and its alert). */
async function adminBackupJob(ctx: Context, store: ScheduleStore, run: ScheduleRun): Promise<JobOutcome> {
  const { adminBackup } = await import('../recover/admin-backup.js');
  const { openRepository } = await import('../repository/restic.js');
  try {
    const result = await adminBackup(ctx, await openRepository(ctx));
    await store.note(run.id, { snapshot: result.snapshot, bytes: result.bytes });
    return { outcome: 'succeeded', summary: `admin database in ${result.repository} as snapshot ${result.snapshot.slice(0, 8)} (${result.bytes} bytes)`, error: null };
  } catch (error) {
    return { outcome: 'failed', summary: 'admin database not backed up', error: messageOf(error), interrupted: ctx.signal.aborted };
  }
}

/**
 * doctor without --fix: a report, recorded in the run; discrepancies are its result, not a failure
 * of the job. A new set of findings (not the previous run's) is a doctor.findings alert, once: the
 * set's key is recorded in the run only once its alert is queued, so a run whose alert could not be
 * queued leaves it to the next run.
 */
async function doctorReport(ctx: Context, store: ScheduleStore, schedule: Schedule, run: ScheduleRun): Promise<JobOutcome> {
  const report = await doctor(ctx);
  const findings = report.findings.map((f) => ({ kind: f.kind, tenant: f.tenant, ...(f.host ? { host: f.host } : {}), detail: f.detail }));
  await store.note(run.id, { findings });
  const checked = `${tenantCount(report.checked.tenants)} checked`;
  let summary = report.findings.length === 0 ? `no discrepancy (${checked})` : `${report.findings.length} ${report.findings.length === 1 ? 'discrepancy' : 'discrepancies'} (${checked}): see tenantctl doctor`;
  const { key, compared, alert } = doctorFindingsAlert(ctx.dockerHost.id, findings, await store.previousFindings(schedule.id, run.id), run.id);
  let queued = false;
  try {
    if (alert) await raiseAlert(ctx, alert);
    queued = true;
    await store.note(run.id, { findingsKey: key, findingsCompared: compared });
  } catch (error) {
    // Queued but not recorded: the next run would raise it again; said, not hidden as not queued.
    summary += queued
      ? ` (its doctor.findings alert was queued, but its set was not recorded: ${messageOf(error)}; the next run may raise it again)`
      : ` (its doctor.findings alert was not queued: ${messageOf(error)}; the next run raises it)`;
  }
  return { outcome: 'succeeded', summary, error: null };
}
