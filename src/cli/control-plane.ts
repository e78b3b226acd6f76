import type { Command } from 'commander';
import { withContext } from './run.js';

// The control-plane commands: feature modules, API keys and the audit log. Like the commands in
// cli.ts, each action imports its command and renderer only when it runs: start-up stays fast.

export function addControlPlaneCommands(program: Command): void {
  addModules(program);
  addKeys(program);
  addAudit(program);
}

function addModules(program: Command): void {
  const modules = program
    .command('modules')
    .description('feature modules: the catalogue with prices, and which ones a tenant has')
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
      const { modulesList } = await import('../commands/modules.js');
      const { renderModules } = await import('../output/control-plane.js');
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
        const { modulesSet } = await import('../commands/modules.js');
        const { renderModuleChange } = await import('../output/control-plane.js');
        await withContext(command, (ctx) => modulesSet(ctx, { id, module: moduleKey, enabled }), renderModuleChange);
      });
  }
}

function addKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('API keys for a tenant\'s API: create (shown once), list, revoke')
    .addHelpText('after', `
Examples:
  $ tenantctl keys create acme --name ci
  $ tenantctl keys list acme
  $ tenantctl keys revoke acme 3f1c2b7e-0d4a-4c1e-9a51-6b7f0e2d9c88
`);

  keys
    .command('create')
    .description('create an API key and print it once: only its SHA-256 is stored')
    .argument('<id>', 'tenant id')
    .option('-n, --name <name>', 'what the key is for (default: "default")')
    .addHelpText('after', `
Examples:
  $ tenantctl keys create acme --name "billing export"
  $ tenantctl keys create acme --name ci --json | jq -r .key

The key cannot be shown again; if it is lost, revoke it and create another.
`)
    .action(async (id: string, options, command: Command) => {
      const { keysCreate } = await import('../commands/keys.js');
      const { renderKeyCreated } = await import('../output/control-plane.js');
      await withContext(command, (ctx) => keysCreate(ctx, { id, name: options.name }), renderKeyCreated);
    });

  keys
    .command('list')
    .description('list a tenant\'s API keys (id, prefix, name, status), revoked ones included; never the keys')
    .argument('<id>', 'tenant id')
    .addHelpText('after', `
Examples:
  $ tenantctl keys list acme
  $ tenantctl keys list acme --json
`)
    .action(async (id: string, _options, command: Command) => {
      const { keysList } = await import('../commands/keys.js');
      const { renderKeys } = await import('../output/control-plane.js');
      await withContext(command, (ctx) => keysList(ctx, { id }), renderKeys);
    });

  keys
    .command('revoke')
    .description('revoke one of a tenant\'s API keys (audited; revoking a revoked key changes nothing)')
    .argument('<id>', 'tenant id')
    .argument('<keyId>', 'key id, as shown by `tenantctl keys list`')
    .addHelpText('after', `
Examples:
  $ tenantctl keys revoke acme 3f1c2b7e-0d4a-4c1e-9a51-6b7f0e2d9c88
  $ tenantctl keys revoke acme 3f1c2b7e-0d4a-4c1e-9a51-6b7f0e2d9c88 --json

A key id that is not the tenant's is refused with exit 3.
`)
    .action(async (id: string, keyId: string, _options, command: Command) => {
      const { keysRevoke } = await import('../commands/keys.js');
      const { renderKeyRevoked } = await import('../output/control-plane.js');
      await withContext(command, (ctx) => keysRevoke(ctx, { id, keyId }), renderKeyRevoked);
    });
}

function addAudit(program: Command): void {
  program
    .command('audit')
    .description('show the audit log, newest first: who changed what (old and new values), for all tenants or one')
    .argument('[id]', 'tenant id')
    .option('--since <when>', 'only entries from then on: an ISO date or date-time, or a duration back from now (30m, 2h, 7d, 1w)')
    .option('--limit <n>', 'at most this many entries (default 50)')
    .addHelpText('after', `
Examples:
  $ tenantctl audit
  $ tenantctl audit acme --since 7d
  $ tenantctl audit --since 2025-01-31T09:00Z --limit 200 --json

A date without a time is midnight UTC; a date-time without an offset is local time.
`)
    .action(async (id: string | undefined, options, command: Command) => {
      const { audit } = await import('../commands/audit.js');
      const { renderAudit } = await import('../output/control-plane.js');
      await withContext(command, (ctx) => audit(ctx, { id, since: options.since, limit: options.limit }), renderAudit);
    });
}
