import type { Command } from 'commander';
import { runLifecycle } from './lifecycle.js';

export function define(command: Command): void {
  command
    .argument('<ids...>', 'tenant ids')
    .addHelpText('after', `
Examples:
  $ tenantctl stop acme
  $ tenantctl stop acme globex --json

Stops the containers (compose stop) and keeps them, with their volumes, ports, subnet and files;
the tenant is recorded as "stopped" (audited) and \`tenantctl start\` brings it back. Stopping a
stopped tenant changes nothing (exit 0). Only an active or stopped tenant can be stopped (else exit 5).
`)
    .action(async (ids: string[], _options, command: Command) => runLifecycle(command, 'stop', ids));
}
