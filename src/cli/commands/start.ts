import type { Command } from 'commander';
import { runLifecycle } from './lifecycle.js';

export function define(command: Command): void {
  command
    .argument('<ids...>', 'tenant ids')
    .addHelpText('after', `
Examples:
  $ tenantctl start acme
  $ tenantctl start acme globex --json

Starts the tenant's existing containers (compose start) and waits until it is ready, as provision
does (PostgreSQL login, Redis PING, the app's /api/ready, the worker's heartbeat); exit 7 if it is
not ready in time. The tenant is then recorded as "active" (audited). An active tenant whose
containers do not all run (drift) is started the same way; one that runs already changes nothing.
`)
    .action(async (ids: string[], _options, command: Command) => runLifecycle(command, 'start', ids));
}
