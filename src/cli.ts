import { Command, CommanderError, Option } from 'commander';
import chalk from 'chalk';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, TenantctlError, messageOf } from './errors.js';
import { packageRoot } from './paths.js';
import { confirmInteractively, withContext } from './cli/with-context.js';

// The only module (with src/cli/) that parses argv, prints, and exits. Commands take plain input
// and return data; this layer renders that data for people or as JSON, and main() maps every
// error to one exit code.

const version: string = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;

export function buildProgram(): Command {
  const program = new Command('tenantctl')
    .description('Provision isolated per-customer stacks (app, worker, PostgreSQL, Redis) on a Docker host, on record in an admin database.')
    .version(version, '-V, --version')
    .option('--json', 'print the result (or the error) as JSON on stdout')
    .option('-c, --config <file>', 'config file (default ./tenantctl.config.yaml; env TENANTCTL_CONFIG)')
    .option('-v, --verbose', 'show compose output while it runs')
    .option('-q, --quiet', 'no progress lines on stderr')
    .showHelpAfterError('(run with --help for usage)')
    // Before the subcommands are added, so they inherit it: main() maps commander's errors to exit 2.
    .exitOverride()
    .addHelpText('after', `
Examples:
  $ tenantctl provision acme --name "ACME Corp"
  $ tenantctl list --json
  $ tenantctl status acme
  $ tenantctl deprovision acme --yes --json

Exit codes: 0 ok, 1 internal error, 2 bad input or config, 3 unknown tenant, 4 confirmation refused,
5 conflict (port taken, tenant busy, pool full), 6 Docker/compose failed, 7 not healthy in time,
8 admin database unreachable, 130 interrupted (rolled back).
`);

  program
    .command('provision')
    .description('create a tenant\'s stack, wait until it is healthy, apply its schema and record it')
    .argument('<id>', 'tenant id: lowercase letters, digits and dashes, starting with a letter, at most 40')
    .option('-n, --name <name>', 'display name (default: the id)')
    .addOption(new Option('--plan <plan>', 'resource plan').choices(['starter', 'standard', 'enterprise']).default('standard'))
    .option('-p, --port <port>', 'use this host port for the app (fails if it is taken)')
    .option('--dry-run', 'print the plan and the rendered compose file; touch neither Docker nor the registry')
    .option('--show-secrets', 'also print the generated passwords (they are never printed otherwise)')
    .addHelpText('after', `
Examples:
  $ tenantctl provision acme --name "ACME Corp"
  $ tenantctl provision globex --name "Globex" --plan enterprise --port 8080
  $ tenantctl provision acme --dry-run

Provisioning an active tenant does nothing and exits 0; a failed one starts clean.
`)
    .action(async (id: string, options, command: Command) => {
      const { provision } = await import('./commands/provision.js');
      const { renderProvision } = await import('./output/render.js');
      await withContext(command, async (ctx) => {
        const result = await provision(ctx, { id, name: options.name, plan: options.plan, port: options.port, dryRun: options.dryRun });
        if (!options.showSecrets || result.outcome !== 'active') return result;
        const { readTenantSecrets } = await import('./secrets.js');
        return { ...result, secrets: await readTenantSecrets(path.join(result.directory, '.env')) };
      }, renderProvision);
    });

  program
    .command('deprovision')
    .description('remove a tenant\'s containers, network, volumes and files, and mark it deprovisioned')
    .argument('<id>', 'tenant id')
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--keep-data', 'keep the data volumes and customers/<id>/ (its passwords) for a later provision')
    .addHelpText('after', `
Examples:
  $ tenantctl deprovision acme
  $ tenantctl deprovision acme --yes --json
  $ tenantctl deprovision acme --yes --keep-data
`)
    .action(async (id: string, options, command: Command) => {
      const { deprovision } = await import('./commands/deprovision.js');
      const { renderDeprovision } = await import('./output/render.js');
      const { parseTenantId } = await import('./tenant/input.js');
      parseTenantId(id); // refuse a bad id before asking anything
      const confirmed = options.yes === true || (await confirmInteractively(id));
      await withContext(command, (ctx) => deprovision(ctx, { id, confirmed, keepData: options.keepData }), renderDeprovision);
    });

  program
    .command('list')
    .description('list tenants on record (deprovisioned ones only with --all)')
    .option('--status <status>', 'only tenants in this status')
    .option('-a, --all', 'include deprovisioned tenants')
    .addHelpText('after', `
Examples:
  $ tenantctl list
  $ tenantctl list --status failed --json
`)
    .action(async (options, command: Command) => {
      const { list } = await import('./commands/list.js');
      const { renderList } = await import('./output/render.js');
      await withContext(command, (ctx) => list(ctx, options), renderList);
    });

  program
    .command('status')
    .description('show one tenant: record, URL, ports, and each service\'s live state and health')
    .argument('<id>', 'tenant id')
    .addHelpText('after', `
Examples:
  $ tenantctl status acme
  $ tenantctl status acme --json
`)
    .action(async (id: string, _options, command: Command) => {
      const { status } = await import('./commands/status.js');
      const { renderStatus } = await import('./output/render.js');
      await withContext(command, (ctx) => status(ctx, { id }), renderStatus);
    });

  return program;
}

/** The one error handler: a typed error becomes its exit code and one line (or a JSON document). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version are "errors" to commander; bad flags are usage errors (commander printed them).
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return ExitCode.ok;
      if (json) printJsonError('usage', ExitCode.usage, error.message.replace(/^error: /, ''), []);
      return ExitCode.usage;
    }
    const typed = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
    if (json) printJsonError(typed.kind, typed.exitCode, typed.message, typed.details);
    else {
      process.stderr.write(`${chalk.red('tenantctl:')} ${typed.message}\n`);
      for (const detail of typed.details) process.stderr.write(`  ${detail}\n`);
      if (typed.kind === 'internal' && process.env.TENANTCTL_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    }
    return typed.exitCode;
  }
}

function printJsonError(code: string, exitCode: number, message: string, details: string[]): void {
  process.stdout.write(`${JSON.stringify({ error: { code, exitCode, message, details } }, null, 2)}\n`);
}
