import type { AlertEvent, AlertKind } from '../alerts/kinds.js';
import { createHash } from 'node:crypto';
import type { ScheduleKind } from './desired.js';

// What a schedule's failed or missed run raises (pure: the agent's scheduler and policy loop raise
// them). Nothing a schedule does fails silently: every kind's failed run (or one a stopped agent
// cut short) is an alert, and a schedule with no succeeded run within two of its intervals (the
// agent was down, its runs fail, a run hangs) is one too, where missing it matters:
//
//   kind                  failed                        missed
//   backup                backup.failed                 backup.missed, per tenant (policy loop)
//   admin-backup          admin.backup-failed           admin.backup-missed (any admin-backup counts)
//   certificate-renewal   certificate.renewal-failed    schedule.missed (certificates expire)
//   retention             schedule.failed               schedule.missed (backups pile up)
//   doctor                schedule.failed               none: a report, and its failures are alerted
//
// The certificate renewal raises its own certificate.renewal-failed from inside its run (per
// certificate, with the CA's error); the scheduler raises one only when the run failed without
// raising it (it threw before, or was interrupted).

export const failedAlertKind: Record<ScheduleKind, AlertKind> = {
  backup: 'backup.failed',
  'admin-backup': 'admin.backup-failed',
  'certificate-renewal': 'certificate.renewal-failed',
  retention: 'schedule.failed',
  doctor: 'schedule.failed',
};

/** Which kinds' missed runs are alerted here (a plan's backups are per tenant: backup.missed, policy-loop.ts). */
export const missedAlertKind: Partial<Record<ScheduleKind, AlertKind>> = {
  'admin-backup': 'admin.backup-missed',
  'certificate-renewal': 'schedule.missed',
  retention: 'schedule.missed',
};

const what: Record<ScheduleKind, string> = {
  backup: 'scheduled backup',
  'admin-backup': 'scheduled admin database backup',
  'certificate-renewal': 'certificate renewal',
  retention: 'backup retention',
  doctor: 'doctor report',
};

export interface ScheduleRef {
  kind: ScheduleKind;
  target: string;
  spec: string;
}

/**
 * Whether the scheduler raises a failed run's alert (review M2): not when the job raised its own
 * (the renewal's), not when another leader settled the run first (it alerted it), and not when the
 * run was cut short because this agent is stopping (`agent up`'s restart, `agent down`: a planned
 * stop, the run due again at once on the next agent). A run cut short by a lost lead, or one that
 * failed on its own while the agent stopped, is still alerted.
 */
export function alertsFailedRun(ended: { outcome: string; interrupted?: boolean; alerted?: boolean }, recorded: 'finished' | 'not ours', stopping: boolean): boolean {
  if (ended.outcome !== 'failed' || ended.alerted) return false;
  if (recorded === 'not ours') return false;
  return !(stopping && ended.interrupted === true);
}

/** The alert for a failed (or interrupted) run of `schedule` on `host`. */
export function failedRunAlert(schedule: ScheduleRef, host: string, runId: string | number, summary: string, error: string | null | undefined): AlertEvent {
  const of = schedule.target === '*' ? '' : ` of plan ${schedule.target}`;
  return {
    kind: failedAlertKind[schedule.kind],
    host,
    summary: `${what[schedule.kind]}${of} on ${host}: ${summary}`,
    detail: {
      // `schedule` is the interval as written, as backup.failed always had it; `kind` the schedule's kind.
      kind: schedule.kind, target: schedule.target, schedule: schedule.spec, run: String(runId), error: error ?? null,
      // As the certificate renewal's own alerts name it: no single certificate.
      ...(schedule.kind === 'certificate-renewal' ? { hostname: null } : {}),
      // backup.failed's detail as it was before every kind had one.
      ...(schedule.kind === 'backup' ? { plan: schedule.target } : {}),
    },
  };
}

export interface ScheduleFreshness extends ScheduleRef {
  everySeconds: number;
  /** When the schedule was created (a schedule that never succeeded is missed two intervals after). */
  createdAt: string;
  /** Its newest succeeded run's end (for admin-backup: or the newest admin backup by anyone); null: none. */
  lastSucceededAt: string | null;
}

export interface MissedSchedule {
  schedule: ScheduleFreshness;
  /** Seconds since its last success, or since it was created when that is later, over two intervals. */
  staleSeconds: number;
}

/**
 * Since when a schedule's (or a tenant's) lack of success is counted (review M4): its last success,
 * but never before the schedule was created: a schedule `agent up` added an hour ago has missed
 * nothing yet, however old the last success from before it was (an operator's admin backup of last
 * month, a tenant's manual backup) and however long the tenant existed. `also` are further starts
 * that count (a tenant's provisioning). NaN when nothing is known.
 */
export function countedSince(createdAt: string, lastSucceededAt: string | null, ...also: Array<string | null>): number {
  const times = [createdAt, lastSucceededAt, ...also].filter((t): t is string => t !== null).map((t) => Date.parse(t));
  return times.some((t) => !Number.isFinite(t)) ? Number.NaN : Math.max(...times);
}

/** The schedules with no success within two of their intervals, of the kinds whose missed run is alerted. */
export function missedSchedules(schedules: readonly ScheduleFreshness[], now: number): MissedSchedule[] {
  return schedules.flatMap((s) => {
    if (!missedAlertKind[s.kind]) return [];
    const since = countedSince(s.createdAt, s.lastSucceededAt);
    if (!Number.isFinite(since)) return [];
    const staleSeconds = Math.floor((now - since) / 1000);
    return staleSeconds > 2 * s.everySeconds ? [{ schedule: s, staleSeconds }] : [];
  });
}

/** A tenant of a plan with a backup schedule, as the policy pass reads it. */
export interface TenantBackupFreshness {
  id: string;
  provisionedAt: string;
  /** Its newest succeeded backup's end (scheduled or an operator's); null: none. */
  lastSucceededAt: string | null;
}

/**
 * The tenants of a plan's backup schedule with no succeeded backup within two of its intervals,
 * counted from their last success, their provisioning or the schedule's creation, whichever is
 * latest (backup.missed).
 */
export function missedBackups(schedule: Pick<ScheduleFreshness, 'createdAt' | 'everySeconds'>, tenants: readonly TenantBackupFreshness[], now: number): Array<TenantBackupFreshness & { staleSeconds: number }> {
  return tenants.flatMap((t) => {
    const since = countedSince(schedule.createdAt, t.lastSucceededAt, t.provisionedAt);
    if (!Number.isFinite(since)) return [];
    const staleSeconds = Math.floor((now - since) / 1000);
    return staleSeconds > 2 * schedule.everySeconds ? [{ ...t, staleSeconds }] : [];
  });
}

/**
 * The repeat key of a missed schedule (alerts/repeat.ts): its host's, kind and target. Retention
 * (target: the plan) and certificate renewal (`*`) exist on every host; a key without the host
 * would let one host's delivery silence another host's missed run for a day.
 */
export function missedScheduleKey(host: string, schedule: Pick<ScheduleRef, 'kind' | 'target'>): string {
  return `schedule-missed:${host}:${schedule.kind}:${schedule.target}`;
}

/** The alert for a missed schedule on `host`. */
export function missedAlert(missed: MissedSchedule, host: string): AlertEvent {
  const s = missed.schedule;
  const since = s.lastSucceededAt && Date.parse(s.lastSucceededAt) >= Date.parse(s.createdAt)
    ? `its last success was at ${s.lastSucceededAt}`
    : `it has not succeeded since it was set up at ${s.createdAt}${s.lastSucceededAt ? ` (the last success before it was at ${s.lastSucceededAt})` : ''}`;
  return {
    kind: missedAlertKind[s.kind]!,
    host,
    summary: `${what[s.kind]}${s.target === '*' ? '' : ` of plan ${s.target}`} on ${host} runs ${s.spec}, and ${since} (${missed.staleSeconds} s ago, over two intervals)`,
    detail: { kind: s.kind, target: s.target, schedule: s.spec, lastSucceededAt: s.lastSucceededAt, staleSeconds: missed.staleSeconds },
  };
}

/** A doctor finding as a scheduled run records it. */
export interface DoctorFindingRef {
  kind: string;
  tenant: string;
  host?: string;
  detail: string;
}

/** Findings of a moment, not of a discrepancy: left out of doctor.findings. */
const passingFindings = new Set(['operation-in-flight']);

/**
 * The set of a doctor run's findings, as a key: each finding's kind, tenant and host (not its
 * wording, which may carry ages and counts), sorted, hashed; '' for none. A run whose key is not the
 * previous run's found a new set.
 */
export function findingsKey(findings: readonly DoctorFindingRef[]): string {
  if (findings.length === 0) return '';
  const items = [...new Set(findings.map((f) => `${f.kind}\u0000${f.tenant}\u0000${f.host ?? ''}`))].sort();
  return createHash('sha256').update(items.join('\n')).digest('hex').slice(0, 32);
}

/** What a doctor run recorded of its set (once its alert was queued): its key and the findings it compared. */
export interface RecordedFindings {
  key: string;
  /** The compared set (kind, tenant, host); null: a run from before it was recorded. */
  compared: DoctorFindingRef[] | null;
}

/**
 * The set a run is compared by: its findings, but of a tenant with an operation in flight (busy:
 * nothing of it is judged meanwhile, findings.ts) the previous run's findings of that tenant
 * instead, as unknown rather than gone. Else an operator's command overlapping a run shrinks the set
 * and the next run, the command over, finds it grown again: two alerts for no change.
 */
export function comparedFindings(all: readonly DoctorFindingRef[], previous: readonly DoctorFindingRef[] | null): DoctorFindingRef[] {
  const busy = new Set(all.filter((f) => f.kind === 'operation-in-flight').map((f) => f.tenant));
  const own = all.filter((f) => !passingFindings.has(f.kind) && !(f.tenant !== '' && busy.has(f.tenant)));
  const kept = (previous ?? []).filter((f) => f.tenant !== '' && busy.has(f.tenant));
  return [...own, ...kept].map((f) => ({ kind: f.kind, tenant: f.tenant, ...(f.host ? { host: f.host } : {}), detail: f.detail ?? '' }));
}

/**
 * The doctor.findings alert of a scheduled doctor run, or undefined: raised once per new set of
 * findings (its key is not the previous run's), never for a run that found nothing nor again for
 * the same set on every run. A set that cleared and came back is new again. `compared` is the set
 * to record with the key (comparedFindings).
 */
export function doctorFindingsAlert(host: string, all: readonly DoctorFindingRef[], previous: RecordedFindings | null, runId: string | number): { key: string; compared: Array<Omit<DoctorFindingRef, 'detail'>>; alert?: AlertEvent } {
  // A command running on a tenant at that moment is no discrepancy: alerting it would raise one
  // whenever an operator's command overlapped a run, and another when it did not.
  const findings = comparedFindings(all, previous?.compared ?? null);
  const key = findingsKey(findings);
  const compared = findings.map((f) => ({ kind: f.kind, tenant: f.tenant, ...(f.host ? { host: f.host } : {}) }));
  if (key === '' || key === (previous?.key ?? null)) return { key, compared };
  const kinds = [...new Set(findings.map((f) => f.kind))].sort();
  const shown = findings.slice(0, 20).map((f) => ({ kind: f.kind, tenant: f.tenant, ...(f.host ? { host: f.host } : {}), detail: f.detail.slice(0, 300) }));
  return {
    key,
    compared,
    alert: {
      kind: 'doctor.findings',
      host,
      summary: `doctor on ${host} found ${findings.length} ${findings.length === 1 ? 'discrepancy' : 'discrepancies'} (${kinds.join(', ')}): tenantctl doctor --host ${host} lists and fixes them`,
      detail: { run: String(runId), count: findings.length, kinds, findings: shown, findingsKey: key },
    },
  };
}
