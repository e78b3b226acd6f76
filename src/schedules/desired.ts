import type { Config } from '../config/schema.js';
import { intervalSeconds } from '../common/interval.js';

// The schedules a host's agent runs, as the configuration asks (README, "The agent"): one backup
// schedule per plan with plans.<plan>.backupSchedule, one retention schedule per plan with
// plans.<plan>.backupKeep or plans.<plan>.backupRetention (at agent.retentionSchedule), one doctor report
// (agent.doctorSchedule), and the admin database into the backup repository (agent.adminBackupSchedule,
// with backups.repository). With an ACME front door on the host, one certificate renewal (agent.certificateRenewalSchedule).
// `tenantctl agent up` writes them as rows (store.ts sync); the agent only reads and claims rows.

export type ScheduleKind = 'backup' | 'retention' | 'doctor' | 'certificate-renewal' | 'admin-backup';

export interface DesiredSchedule {
  kind: ScheduleKind;
  /** A plan, or '*' for the whole host. */
  target: string;
  spec: string;
  everySeconds: number;
  keep: number | null;
}

/** `acmeDoor`: this host's front door gets its certificates by ACME (frontdoor init --acme), so the agent renews them. */
export function desiredSchedules(config: Config, { acmeDoor = false }: { acmeDoor?: boolean } = {}): DesiredSchedule[] {
  const wanted: DesiredSchedule[] = [];
  for (const [plan, settings] of Object.entries(config.plans)) {
    const backupEvery = intervalSeconds(settings.backupSchedule, `plans.${plan}.backupSchedule`);
    if (backupEvery !== undefined) wanted.push({ kind: 'backup', target: plan, spec: settings.backupSchedule, everySeconds: backupEvery, keep: null });
    const retentionEvery = intervalSeconds(config.agent.retentionSchedule, 'agent.retentionSchedule');
    // backupRetention (daily/weekly/monthly) applies in the backup repository; the job reads it from the config when it runs.
    if ((settings.backupKeep !== undefined || settings.backupRetention !== undefined) && retentionEvery !== undefined) {
      wanted.push({ kind: 'retention', target: plan, spec: config.agent.retentionSchedule, everySeconds: retentionEvery, keep: settings.backupKeep ?? null });
    }
  }
  const doctorEvery = intervalSeconds(config.agent.doctorSchedule, 'agent.doctorSchedule');
  if (doctorEvery !== undefined) wanted.push({ kind: 'doctor', target: '*', spec: config.agent.doctorSchedule, everySeconds: doctorEvery, keep: null });
  const renewalEvery = intervalSeconds(config.agent.certificateRenewalSchedule, 'agent.certificateRenewalSchedule');
  if (acmeDoor && renewalEvery !== undefined) {
    wanted.push({ kind: 'certificate-renewal', target: '*', spec: config.agent.certificateRenewalSchedule, everySeconds: renewalEvery, keep: null });
  }
  // The admin database into the repository (what `recover` starts from): only the local one, which this host's engine runs.
  const adminEvery = intervalSeconds(config.agent.adminBackupSchedule, 'agent.adminBackupSchedule');
  if (adminEvery !== undefined && config.backups.repository && !config.adminDatabase.url) { // computed by `agent up`, where a URL means a managed database
    wanted.push({ kind: 'admin-backup', target: '*', spec: config.agent.adminBackupSchedule, everySeconds: adminEvery, keep: null });
  }
  return wanted;
}
