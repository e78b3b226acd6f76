import { Option, type Command } from 'commander';
import { TenantctlError } from '../../common/errors.js';
import { ignoreFailure } from '../../common/ignore-failure.js';
import path from 'node:path';
import { withContext } from '../run.js';
import { defaultConcurrency } from '../concurrency.js';
import { thenSyncFrontdoor } from '../frontdoor-sync.js';

export function define(command: Command): void {
  command
    .argument('[ids...]', 'tenant ids: lowercase letters, digits and dashes, starting with a letter, at most 40')
    .option('-n, --name <name>', 'display name (default: the id; one tenant only)')
    .addOption(new Option('--plan <plan>', 'resource plan').choices(['starter', 'standard', 'enterprise']))
    .option('-p, --port <port>', 'use this host port for the app (fails if it is taken; one tenant only)')
    .option('-f, --file <tenants.yaml>', 'provision the tenants listed in this file (ids, or {id, name, plan, port})')
    .option('--concurrency <n>', 'tenants provisioned at once in a batch (default: twice the CPU count, 2 to 8)', String(defaultConcurrency()))
    .option('--host <name>', 'the Docker host of the fleet to put the tenants on (default: placement by the config\'s policy; tenantctl hosts list)')
    .option('-t, --template <name>', 'the stack to provision: a template by name (tenantctl templates list; default: templates.default, crm)')
    .option('-w, --with <profile>', 'switch on an optional part of the template (a compose profile); repeatable', (value: string, previous: string[] = []) => [...previous, value])
    .option('--dry-run', 'print the plan and the rendered compose file; touch neither Docker nor the registry')
    .option('--show-secrets', 'also print the generated passwords (they are never printed otherwise)')
    .option('--adopt', 'take over Docker objects of the tenant\'s compose project that no tenant on record accounts for, as its data (its passwords in customers/<id>/secrets/; one tenant only)')
    .option('--fresh-data', 'a tenant on a swarm whose kept data (deprovision --keep-data) is on a node that left the swarm, is down, or lost a volume: start it on empty volumes instead of refusing (exit 5)')
    .addHelpText('after', `
Examples:
  $ tenantctl provision acme --name "ACME Corp"
  $ tenantctl provision globex --name "Globex" --plan enterprise --port 8080
  $ tenantctl provision acme --dry-run
  $ tenantctl provision shop --template frontbase --with postgres
  $ tenantctl provision acme globex initech --concurrency 3
  $ tenantctl provision --file tenants.yaml --json
  $ tenantctl provision acme --host web2
  $ tenantctl provision acme --adopt        # its volumes are on this engine, its row is not (an older admin database)
  $ tenantctl provision acme --fresh-data   # on a swarm: its kept data's node is gone for good

Provisioning an active tenant does nothing and exits 0; a failed one starts clean. Objects of the
tenant's compose project on the engine that no tenant on record accounts for are refused (exit 5)
unless --adopt: they may be another registry's tenant.
In a batch, a failed tenant is rolled back, the others stand, and the exit code is 9.
`)
    .action(async (ids: string[], options, command: Command) => {
      const batch = options.file !== undefined || ids.length > 1;
      if (!batch) {
        if (ids.length === 0) throw new TenantctlError('usage', 'give a tenant id, several ids, or --file tenants.yaml');
        const { provision, checkProvisionInput } = await import('../../tenants/provision.js');
        const { renderProvision } = await import('../../tenants/render.js');
        return withContext(command, async (home) => {
          const input = { id: ids[0], name: options.name, plan: options.plan, port: options.port, dryRun: options.dryRun, template: options.template, with: options.with, adopt: options.adopt === true, freshData: options.freshData === true };
          // Bad input is refused before placement opens (or starts) the admin database.
          const checked = await checkProvisionInput(home, input);
          // Where the tenant goes: its recorded host, --host, or the placement policy (src/hosts/place.ts).
          const { placeTenant } = await import('../../hosts/place.js');
          const ctx = options.dryRun ? home : (await placeTenant(home, { id: ids[0], host: options.host, plan: options.plan })).ctx;
          const result = await thenSyncFrontdoor(ctx, () => provision(ctx, input, checked), { skip: options.dryRun === true })
            .finally(() => (options.dryRun ? undefined : forgetPlacements(home, [checked.id])));
          if (!options.showSecrets || result.outcome !== 'active') return result;
          const { secretsToShow } = await import('../../secrets/env-file.js');
          return { ...result, ...(await secretsToShow(path.join(result.directory, 'secrets'))) };
        }, renderProvision);
      }
      for (const flag of ['name', 'port', 'dryRun', 'showSecrets', 'adopt', 'freshData'] as const) {
        if (options[flag] !== undefined) throw new TenantctlError('usage', `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to one tenant; give it per tenant in --file instead`);
      }
      const { provisionBatch, readTenantsFile } = await import('../../tenants/provision-batch.js');
      type BatchTenant = import('../../tenants/provision-batch.js').BatchTenant;
      const { renderProvisionBatch } = await import('../../tenants/render.js');
      const { BatchProgress } = await import('../batch-progress.js');
      const given: BatchTenant[] = [...ids.map((id) => ({ id, plan: options.plan })), ...(options.file ? await readTenantsFile(options.file) : [])];
      const tenants = given.map((t) => ({ ...t, template: t.template ?? options.template, with: t.with ?? options.with }));
      const concurrency = Number(options.concurrency);
      const progress = new BatchProgress(process.stderr, command.optsWithGlobals().quiet === true);
      await withContext(
        command,
        async (ctx) => {
          const { placeTenant } = await import('../../hosts/place.js');
          // Each placement is recorded in the admin database as it is made: the batch's tenants (and
          // other processes') count each other, so they spread instead of all picking the emptiest host.
          const place = async (c: typeof ctx, t: { id: string; plan?: string }) => (await placeTenant(c, { id: t.id, host: options.host, plan: t.plan })).ctx;
          return thenSyncFrontdoor(ctx, () => provisionBatch(ctx, { tenants, concurrency, place }, (id) => progress.reporterFor(id)).finally(() => progress.stop()))
            .finally(() => forgetPlacements(ctx, tenants.map((t) => t.id)));
        },
        renderProvisionBatch,
        { adminConnections: Math.min(Number.isFinite(concurrency) ? concurrency : 4, 32) * 2 + 2 },
      );
    });
}

/** Placements of this command's tenants count no more once it has ended (src/hosts/store.ts); a failure to say so is only a stale count for 15 minutes. */
async function forgetPlacements(ctx: import('../../context.js').Context, ids: string[]): Promise<void> {
  const { HostStore } = await import('../../hosts/store.js');
  await new HostStore(await ctx.adminDb()).forgetPlacements(ids).catch(ignoreFailure('a placement not forgotten is only a stale count for 15 minutes'));
}
