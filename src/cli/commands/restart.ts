import type { Command } from 'commander';
import { runLifecycle } from './lifecycle.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function define(command: Command): void {
  command
    .argument('<ids...>', 'tenant ids')
    .option('-s, --service <name>', 'restart only this service (app, worker, db, redis); repeatable', collect, [])
    .addHelpText('after', `
Examples:
  $ tenantctl restart acme
  $ tenantctl restart acme --service app
  $ tenantctl restart acme globex --service worker --json

Restarts the containers (compose restart; kept, not re-created) and waits until the tenant is ready
again, as provision does (exit 7 if not in time). Audited. Only an active tenant can be restarted: a
stopped one is started with \`tenantctl start\` (exit 5). An unknown service is exit 2.
`)
    .action(async (ids: string[], options: { service: string[] }, command: Command) => runLifecycle(command, 'restart', ids, options.service));
}
