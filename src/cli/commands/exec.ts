import type { Command } from 'commander';
import { withContext } from '../run.js';
import { ChildExited } from '../child-exit.js';

/** A pseudo-terminal only when there is a terminal on both ends; pipes otherwise. */
export const onTerminal = () => process.stdin.isTTY === true && process.stdout.isTTY === true;

/** Runs an exec-like command and makes the child's exit code tenantctl's. */
export async function runChild(command: Command, id: string, work: Parameters<typeof withContext<{ exitCode: number }>>[1]): Promise<void> {
  let exitCode = 0;
  await withContext(command, async (ctx) => {
    const result = await work(ctx);
    exitCode = result.exitCode;
    return result;
  }, null, { onInterrupt: 'child', tenantIds: [id], readOnly: true });
  if (exitCode !== 0) throw new ChildExited(exitCode);
}

export function define(command: Command): void {
  command
    .argument('<id>', 'tenant id')
    .argument('<service>', 'service: app, worker, db or redis')
    .argument('<command...>', 'the command and its arguments, after --')
    .addHelpText('after', `
Examples:
  $ tenantctl exec acme app -- sh
  $ tenantctl exec acme worker -- node --version
  $ tenantctl exec acme db -- sh -c 'du -sh /var/lib/postgresql/data'

Runs the command in the service's running container (docker exec): with a pseudo-terminal when
stdin and stdout are terminals, with plain pipes otherwise. Signals sent to tenantctl go to the
command, and its exit code is tenantctl's. Put the command after --, so that its own options are
not taken for tenantctl's. The tenant must be active (a stopped one is exit 5); an unknown service
is exit 2, an unknown tenant exit 3.
`)
    .action(async (id: string, service: string, argv: string[], _options, command: Command) => {
      const { execInService } = await import('../../tenants/exec.js');
      await runChild(command, id, (ctx) => execInService(ctx, { id, service, command: argv, tty: onTerminal() }));
    });
}
