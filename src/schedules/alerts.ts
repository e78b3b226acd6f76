import type { AlertEvent, AlertKind } from '../alerts/kinds.js';
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
  /** Seconds since its last success (or since it was created), over two intervals. */
  staleSeconds: number;
}

/** The schedules with no success within two of their intervals, of the kinds whose missed run is alerted. */
export function missedSchedules(schedules: readonly ScheduleFreshness[], now: number): MissedSchedule[] {
  return schedules.flatMap((s) => {
    if (!missedAlertKind[s.kind]) return [];
    const since = Date.parse(s.lastSucceededAt ?? s.createdAt);
    if (!Number.isFinite(since)) return [];
    const staleSeconds = Math.floor((now - since) / 1000);
    return staleSeconds > 2 * s.everySeconds ? [{ schedule: s, staleSeconds }] : [];
  });
}

/** The alert for a missed schedule on `host`. */
export function missedAlert(missed: MissedSchedule, host: string): AlertEvent {
  const s = missed.schedule;
  const since = s.lastSucceededAt ? `its last success was at ${s.lastSucceededAt}` : `it has not succeeded since it was set up at ${s.createdAt}`;
  return {
    kind: missedAlertKind[s.kind]!,
    host,
    summary: `${what[s.kind]}${s.target === '*' ? '' : ` of plan ${s.target}`} on ${host} runs ${s.spec}, and ${since} (${missed.staleSeconds} s ago, over two intervals)`,
    detail: { kind: s.kind, target: s.target, schedule: s.spec, lastSucceededAt: s.lastSucceededAt, staleSeconds: missed.staleSeconds },
  };
}
