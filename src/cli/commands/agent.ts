import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  const agent = command.addHelpText('after', `
Examples:
  $ tenantctl agent up
  $ tenantctl agent status --json
  $ tenantctl agent logs --follow
  $ tenantctl agent down

The agent runs tenantctl's own code on this Docker host, in its own compose project (agent.project),
with its own admin database login (tenantctl_agent): scheduled backups per plan, backup retention
and doctor reports (tenantctl schedules list). Two agents of one host elect one leader.
`);

  agent
    .command('up')
    .description('build the agent\'s image from this tenantctl\'s bundle, write its schedules, and start or upgrade it')
    .addHelpText('after', `
Examples:
  $ tenantctl agent up
  $ TENANTCTL_AGENT_PORT=9190 tenantctl agent up --json

Running it again with a new tenantctl (or a changed configuration) recreates the agent; otherwise it
is left running. It records this host's suspension policy (suspension.deprovisionAfterDays, or off)
where the agent's own database role cannot change it: the database refuses any deprovisioning by
the agent sooner than those days. Exit 6 when Docker cannot build or start it, 8 when the admin
database fails.
`)
    .action(async (_options, command: Command) => {
      const { agentUp } = await import('../../agent/commands.js');
      const { renderAgentUp } = await import('../../agent/render.js');
      await withContext(command, (ctx) => agentUp(ctx), renderAgentUp);
    });

  agent
    .command('down')
    .description('stop and remove the agent\'s container (its compose project); nothing else')
    .addHelpText('after', `
Examples:
  $ tenantctl agent down

A scheduled job in flight is cancelled and cleans up as on Ctrl-C (a backup is recorded as failed).
`)
    .action(async (_options, command: Command) => {
      const { agentDown } = await import('../../agent/commands.js');
      const { renderAgentDown } = await import('../../agent/render.js');
      await withContext(command, (ctx) => agentDown(ctx), renderAgentDown);
    });

  agent
    .command('status')
    .description('whether the agent runs and leads this host, its loops, metricsUrl and apiUrl')
    .addHelpText('after', `
Examples:
  $ tenantctl agent status
  $ tenantctl agent status --json | jq '{state, leader, metricsUrl}'

state is running, unresponsive (its container runs but it does not answer), stopped or absent; exit 0 in each case.
`)
    .action(async (_options, command: Command) => {
      const { agentStatus } = await import('../../agent/commands.js');
      const { renderAgentStatus } = await import('../../agent/render.js');
      await withContext(command, (ctx) => agentStatus(ctx), renderAgentStatus, { readOnly: true });
    });

  agent
    .command('logs')
    .description('the agent\'s log (docker logs of its container), streamed to stdout')
    .option('-f, --follow', 'keep streaming until Ctrl-C')
    .option('-n, --tail <n>', 'only the last n lines ("all" for everything)')
    .addHelpText('after', `
Examples:
  $ tenantctl agent logs --tail 50
  $ tenantctl agent logs -f

Exit 3 when no agent runs on this host.
`)
    .action(async (options, command: Command) => {
      const { agentLogs } = await import('../../agent/commands.js');
      await withContext(command, (ctx) => agentLogs(ctx, { follow: options.follow, tail: options.tail }), null, { onInterrupt: 'end', readOnly: true });
    });

  // What the agent's container runs (`tenantctl -c <its config> agent run`): not for people.
  agent
    .command('run', { hidden: true })
    .description('run the agent in the foreground (what its container runs)')
    .action(async (_options, command: Command) => {
      const { runAgent } = await import('../../agent/run.js');
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      await withContext(command, (ctx) => runAgent(ctx, log), null, { onInterrupt: 'end', adminConnections: 8, adminIdleMs: 60_000 });
    });
}
