import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { SchedulesResult } from './commands.js';

const when = (iso: string | null) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : '-');

export function renderSchedules(r: SchedulesResult): string {
  if (r.schedules.length === 0) return 'No schedules: set plans.<plan>.backupSchedule, plans.<plan>.backupKeep or agent.doctorSchedule, then run tenantctl agent up.';
  const rows = r.schedules.map((s) => {
    const outcome = s.running ? chalk.yellow('running') : s.lastOutcome === 'succeeded' ? chalk.green('succeeded') : s.lastOutcome === 'failed' ? chalk.red('failed') : '-';
    return [s.host, s.kind, s.target, s.spec + (s.keep ? ` (keep ${s.keep})` : ''), when(s.nextRunAt), when(s.lastFinishedAt ?? s.lastStartedAt), outcome, s.lastError ?? s.lastSummary ?? ''];
  });
  return table(['HOST', 'KIND', 'TARGET', 'EVERY', 'NEXT RUN', 'LAST RUN', 'OUTCOME', 'LAST ERROR / RESULT'], rows);
}
