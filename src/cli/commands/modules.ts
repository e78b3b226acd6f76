import type { Command } from 'commander';
import { withContext } from '../run.js';

export function define(command: Command): void {
  const modules = command
    .addHelpText('after', `
Examples:
  $ tenantctl modules list
  $ tenantctl modules list acme
  $ tenantctl modules enable acme ai_assistant
  $ tenantctl modules disable acme ai_assistant --json
`);

  modules
    .command('list')
    .description('list the modules and their monthly prices; with a tenant id, which are enabled for it and its MRR')
    .argument('[id]', 'tenant id')
    .addHelpText('after', `
Examples:
  $ tenantctl modules list
  $ tenantctl modules list acme --json
`)
    .action(async (id: string | undefined, _options, command: Command) => {
      const { modulesList } = await import('../../modules/commands.js');
      const { renderModules } = await import('../../modules/render.js');
      await withContext(command, (ctx) => modulesList(ctx, { id }), renderModules);
    });

  for (const enabled of [true, false]) {
    const verb = enabled ? 'enable' : 'disable';
    modules
      .command(verb)
      .description(`${verb} a module for a tenant (audited; ${enabled ? 'enabling' : 'disabling'} it again changes nothing)`)
      .argument('<id>', 'tenant id')
      .argument('<module>', 'module key, as in `tenantctl modules list` (e.g. ai_assistant)')
      .addHelpText('after', `
Examples:
  $ tenantctl modules ${verb} acme ai_assistant
  $ tenantctl modules ${verb} acme workflow_automation --json

Unknown modules are refused with exit 2, unknown or deprovisioned tenants with exit 3.
`)
      .action(async (id: string, moduleKey: string, _options, command: Command) => {
        const { modulesSet } = await import('../../modules/commands.js');
        const { renderModuleChange } = await import('../../modules/render.js');
        await withContext(command, (ctx) => modulesSet(ctx, { id, module: moduleKey, enabled }), renderModuleChange);
      });
  }
}
