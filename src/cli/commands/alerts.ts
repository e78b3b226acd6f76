import type { Command } from 'commander';
import { withContext } from '../run.js';
import { alertKinds } from '../../alerts/kinds.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export function define(command: Command): void {
  const alerts = command.addHelpText('after', `
Examples:
  $ tenantctl alerts add https://hooks.example.com/tenantctl --events tenant.down,tenant.recovered
  $ tenantctl alerts list
  $ tenantctl alerts test
  $ tenantctl alerts deliveries --failed
  $ tenantctl alerts remove ep-3k9x2m7q
`);

  alerts
    .command('add')
    .description('add a webhook endpoint; its signing secret is written to a new 0600 file, never printed')
    .argument('<url>', 'http:// or https:// URL that receives JSON POSTs')
    .option('--events <kinds>', 'only these events, comma-separated or repeated (default: all)', collect, [])
    .option('--secret-file <path>', 'where to write the signing secret (default <stateDir>/alert-secrets/<id>.secret; must not exist)')
    .option('--allow-private', 'allow a loopback, private or link-local target, or port 2375/2376 (refused otherwise, at add and before each delivery)')
    .addHelpText('after', `
Examples:
  $ tenantctl alerts add https://hooks.example.com/tenantctl
  $ tenantctl alerts add http://127.0.0.1:8080/hook --allow-private --events tenant.down --events tenant.recovered --secret-file ./hook.secret

Events: ${alertKinds.join(', ')}.
Each delivery is a POST with a JSON body and the headers
X-Tenantctl-Timestamp (Unix seconds) and X-Tenantctl-Signature: sha256=<hex HMAC-SHA256 of
"<timestamp>.<body>" keyed with the secret>. The secret is sealed in the admin database with the
master key; the file is the only place it is shown. The URL's path and query are never shown
again (alerts list shows its origin and a short hash).
`)
    .action(async (url: string, options: { events: string[]; secretFile?: string; allowPrivate?: boolean }, command: Command) => {
      const { addEndpoint } = await import('../../alerts/commands.js');
      const { renderAdded } = await import('../../alerts/render.js');
      await withContext(command, (ctx) => addEndpoint(ctx, { url, events: options.events, secretFile: options.secretFile, allowPrivate: options.allowPrivate }), renderAdded);
    });

  alerts
    .command('list')
    .description('list webhook endpoints (id, URL, events); never their secrets')
    .addHelpText('after', `
Examples:
  $ tenantctl alerts list
  $ tenantctl alerts list --json
`)
    .action(async (_options, command: Command) => {
      const { endpoints } = await import('../../alerts/commands.js');
      const { renderEndpoints } = await import('../../alerts/render.js');
      await withContext(command, (ctx) => endpoints(ctx), renderEndpoints);
    });

  alerts
    .command('remove')
    .description('remove a webhook endpoint and its deliveries (audited)')
    .argument('<endpoint>', 'endpoint id, as alerts list shows (ep-...)')
    .addHelpText('after', `
Examples:
  $ tenantctl alerts remove ep-3k9x2m7q
`)
    .action(async (endpoint: string, _options, command: Command) => {
      const { removeEndpoint } = await import('../../alerts/commands.js');
      const { renderRemoved } = await import('../../alerts/render.js');
      await withContext(command, (ctx) => removeEndpoint(ctx, { id: endpoint }), renderRemoved);
    });

  alerts
    .command('test')
    .description('send one signed test delivery now to an endpoint (or all) and report the HTTP status')
    .argument('[endpoint]', 'endpoint id (default: every endpoint)')
    .addHelpText('after', `
Examples:
  $ tenantctl alerts test
  $ tenantctl alerts test ep-3k9x2m7q --json

Tried once, not retried; the delivery row keeps the outcome. Exit 9 when an endpoint did not answer 2xx.
`)
    .action(async (endpoint: string | undefined, _options, command: Command) => {
      const { testEndpoints } = await import('../../alerts/commands.js');
      const { renderTest } = await import('../../alerts/render.js');
      await withContext(command, (ctx) => testEndpoints(ctx, { id: endpoint }), renderTest);
    });

  alerts
    .command('deliveries')
    .description('list webhook deliveries, newest first: state, attempts, next attempt, last error')
    .option('--failed', 'only those that failed for good or are retrying after a failure')
    .option('--endpoint <id>', 'only this endpoint\'s')
    .option('--limit <n>', 'at most this many (default 50)')
    .addHelpText('after', `
Examples:
  $ tenantctl alerts deliveries
  $ tenantctl alerts deliveries --failed --json
`)
    .action(async (options: { failed?: boolean; endpoint?: string; limit?: string }, command: Command) => {
      const { deliveries } = await import('../../alerts/commands.js');
      const { renderDeliveries } = await import('../../alerts/render.js');
      await withContext(command, (ctx) => deliveries(ctx, options), renderDeliveries);
    });
}
