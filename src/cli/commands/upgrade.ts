import type { Command } from 'commander';
import { withContext } from '../run.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function define(command: Command): void {
  command
    .argument('[ids...]', 'tenant ids; the first is the canary')
    .option('--all', 'every active tenant on this Docker host')
    .option('--host <name>', 'with --all: the tenants of this host of the fleet (default: this environment\'s; tenantctl hosts list)')
    .option('--image <service=image>', 'a new image KEY=IMAGE: a configured one (app, postgres, redis) or the template\'s own image_KEY variable (repeatable; default: the configured images)', collect)
    .option('--template <file>', 'render from this compose template (default: templatePath)')
    .option('--plan <plan>', 'starter, standard or enterprise (default: the tenant\'s plan)')
    .option('--concurrency <n>', 'tenants upgraded at once after the canary (default 2)', '2')
    .option('--continue', 'go on with the other tenants after a failure (default: stop at the first)')
    .addHelpText('after', `
Examples:
  $ tenantctl upgrade acme --image app=tenantctl/app:2025-02-01
  $ tenantctl upgrade --all --image app=tenantctl/app:2025-02-01 --concurrency 4
  $ tenantctl upgrade acme --plan enterprise
  $ tenantctl upgrade shop --image backend=tenantctl/frontbase-backend:2025-03

The compose file is rendered again (same ports, subnet and secrets) and brought up: compose
recreates only the services whose configuration or image changed; data volumes are never
recreated. A tenant not ready by healthDeadlineSeconds is rolled back to its last good state (the
compose file recorded then, every service on the image id it ran) and the upgrade exits 7
("rolled back to ..."). With several tenants the first is a canary: if it fails, no other is
touched; then --concurrency at a time, stopping at the first failure unless --continue (exit 9).
A new PostgreSQL major version is refused (exit 2): back up and restore onto it instead. An
--image key the tenant's template has no image for is refused (exit 2); an image not on the Docker
host is exit 6; in both cases nothing is changed.
`)
    .action(async (ids: string[], options, command: Command) => {
      const { upgradeMany, parseImageOverrides } = await import('../../upgrades/upgrade.js');
      const { renderUpgrade } = await import('../../upgrades/render.js');
      const images = parseImageOverrides(options.image);
      const templatePath = options.template === undefined ? undefined : (await import('node:path')).resolve(options.template);
      await withContext(command, (ctx) => thenSyncFrontdoor(ctx, () => upgradeMany(ctx, {
        ids, all: options.all === true, concurrency: Number(options.concurrency), continueOnFailure: options.continue === true,
        options: { images, templatePath, plan: options.plan },
      })), renderUpgrade, { tenantIds: ids, hostName: options.host });
    });
}
