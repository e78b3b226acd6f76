import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  command
    .command('list', { isDefault: true })
    .description('each schedule the agents run: kind, plan, interval, next run, last run with its outcome and last error')
    .option('--host <name>', 'only this Docker host\'s schedules')
    .addHelpText('after', `
Examples:
  $ tenantctl schedules list
  $ tenantctl schedules list --json | jq '.schedules[] | select(.lastOutcome == "failed")'

Schedules come from the configuration (plans.<plan>.backupSchedule, plans.<plan>.backupKeep,
agent.doctorSchedule, agent.retentionSchedule, and agent.certificateRenewalSchedule on a host whose
front door gets certificates by ACME) and are written by tenantctl agent up.
`)
    .action(async (options, command: Command) => {
      const { schedulesList } = await import('../../schedules/commands.js');
      const { renderSchedules } = await import('../../schedules/render.js');
      await withContext(command, (ctx) => schedulesList(ctx, { host: options.host }), renderSchedules);
    });
}
