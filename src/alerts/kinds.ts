// The events an alert endpoint can ask for (`alerts add --events`). The watch raises the tenant and
// host ones; backups, certificates and disk quotas raise theirs through raiseAlert (raise.ts). Every
// schedule kind's failed run is an alert (src/schedules/alerts.ts): backup.failed,
// admin.backup-failed, certificate.renewal-failed, and schedule.failed for retention and doctor; a
// scheduled doctor run that finds a new set of discrepancies raises doctor.findings, and the agent's
// pitr-lag loop pitr.lagging and pitr.caught-up.

export const alertKinds = [
  'tenant.down',
  'tenant.degraded',
  'tenant.recovered',
  'tenant.restart-failed',
  'host.unreachable',
  'host.reachable',
  'host.agent-silent',
  'host.agent-back',
  'backup.failed',
  'backup.missed',
  'admin.backup-failed',
  'admin.backup-missed',
  'schedule.failed',
  'schedule.missed',
  'certificate.expiring',
  'certificate.renewal-failed',
  'disk.over-plan',
  'doctor.findings',
  'pitr.lagging',
  'pitr.caught-up',
  'suspension.deprovision-soon',
  'suspension.deprovision-due',
  'suspension.deprovisioned',
  'suspension.deprovision-failed',
  'test',
] as const;

export type AlertKind = (typeof alertKinds)[number];

export function isAlertKind(value: string): value is AlertKind {
  return (alertKinds as readonly string[]).includes(value);
}

/** What is raised: the kind, whom it is about, one line for people, and details for programs. */
export interface AlertEvent {
  kind: AlertKind;
  tenant?: string;
  host?: string;
  summary: string;
  detail?: Record<string, unknown>;
  /** When it happened; now when absent. */
  at?: Date;
}
