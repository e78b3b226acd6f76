import { Command, CommanderError, Option } from 'commander';
import chalk from 'chalk';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BatchFailure, ExitCode, TenantctlError, messageOf } from './errors.js';
import { packageRoot } from './paths.js';
import { confirmInteractively, withContext } from './cli/run.js';
import { addControlPlaneCommands } from './cli/control-plane.js';
import { addSecretsCommand } from './cli/secrets.js';

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
8 admin database unreachable, 9 some tenants of a batch failed, 130 interrupted (rolled back).
`);

  program
    .command('provision')
    .description('create tenants\' stacks, wait until they are healthy, apply their schema and record them')
    .argument('[ids...]', 'tenant ids: lowercase letters, digits and dashes, starting with a letter, at most 40')
    .option('-n, --name <name>', 'display name (default: the id; one tenant only)')
    .addOption(new Option('--plan <plan>', 'resource plan').choices(['starter', 'standard', 'enterprise']))
    .option('-p, --port <port>', 'use this host port for the app (fails if it is taken; one tenant only)')
    .option('-f, --file <tenants.yaml>', 'provision the tenants listed in this file (ids, or {id, name, plan, port})')
    .option('--concurrency <n>', 'tenants provisioned at once in a batch', '4')
    .option('--dry-run', 'print the plan and the rendered compose file; touch neither Docker nor the registry')
    .option('--show-secrets', 'also print the generated passwords (they are never printed otherwise)')
    .addHelpText('after', `
Examples:
  $ tenantctl provision acme --name "ACME Corp"
  $ tenantctl provision globex --name "Globex" --plan enterprise --port 8080
  $ tenantctl provision acme --dry-run
  $ tenantctl provision acme globex initech --concurrency 3
  $ tenantctl provision --file tenants.yaml --json

Provisioning an active tenant does nothing and exits 0; a failed one starts clean.
In a batch, a failed tenant is rolled back, the others stand, and the exit code is 9.
`)
    .action(async (ids: string[], options, command: Command) => {
      const batch = options.file !== undefined || ids.length > 1;
      if (!batch) {
        if (ids.length === 0) throw new TenantctlError('usage', 'give a tenant id, several ids, or --file tenants.yaml');
        const { provision } = await import('./commands/provision.js');
        const { renderProvision } = await import('./output/render.js');
        return withContext(command, async (ctx) => {
          const result = await provision(ctx, { id: ids[0], name: options.name, plan: options.plan, port: options.port, dryRun: options.dryRun });
          if (!options.showSecrets || result.outcome !== 'active') return result;
          const { readEnvFileSecrets } = await import('./secrets.js');
          return { ...result, secrets: await readEnvFileSecrets(path.join(result.directory, '.env')) };
        }, renderProvision);
      }
      for (const flag of ['name', 'port', 'dryRun', 'showSecrets'] as const) {
        if (options[flag] !== undefined) throw new TenantctlError('usage', `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to one tenant; give it per tenant in --file instead`);
      }
      const { provisionBatch, readTenantsFile } = await import('./commands/provision-batch.js');
      const { renderProvisionBatch } = await import('./output/render.js');
      const { BatchProgress } = await import('./cli/batch-progress.js');
      const tenants = [...ids.map((id) => ({ id, plan: options.plan })), ...(options.file ? await readTenantsFile(options.file) : [])];
      const concurrency = Number(options.concurrency);
      const progress = new BatchProgress(process.stderr, command.optsWithGlobals().quiet === true);
      await withContext(
        command,
        (ctx) => provisionBatch(ctx, { tenants, concurrency }, (id) => progress.reporterFor(id)).finally(() => progress.stop()),
        renderProvisionBatch,
        { registryConnections: Math.min(Number.isFinite(concurrency) ? concurrency : 4, 32) * 2 + 2 },
      );
    });

  program
    .command('deprovision')
    .description('remove tenants\' containers, network, volumes and files, and mark them deprovisioned')
    .argument('<ids...>', 'tenant ids')
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--keep-data', 'keep the data volumes and customers/<id>/ (its passwords) for a later provision')
    .option('--concurrency <n>', 'tenants removed at once when several are given', '4')
    .addHelpText('after', `
Examples:
  $ tenantctl deprovision acme
  $ tenantctl deprovision acme --yes --json
  $ tenantctl deprovision acme --yes --keep-data
  $ tenantctl deprovision acme globex initech --yes
`)
    .action(async (ids: string[], options, command: Command) => {
      const { deprovision } = await import('./commands/deprovision.js');
      const { renderDeprovision, renderDeprovisionBatch } = await import('./output/render.js');
      const { parseTenantId } = await import('./tenant/input.js');
      ids.forEach((id) => parseTenantId(id)); // refuse a bad id before asking anything
      const confirmed = options.yes === true || (await confirmInteractively(ids));
      if (ids.length === 1) {
        return withContext(command, (ctx) => deprovision(ctx, { id: ids[0], confirmed, keepData: options.keepData }), renderDeprovision);
      }
      const { deprovisionBatch } = await import('./commands/deprovision-batch.js');
      const concurrency = Number(options.concurrency);
      await withContext(command, (ctx) => deprovisionBatch(ctx, { ids, confirmed, keepData: options.keepData, concurrency }), renderDeprovisionBatch, {
        registryConnections: Math.min(Number.isFinite(concurrency) ? concurrency : 4, 32) * 2 + 2,
      });
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

  addSecretsCommand(program);
  addControlPlaneCommands(program);
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
    if (error instanceof BatchFailure && error.reported) {
      // The batch's own result, with each failure, is already on stdout.
      if (!json) process.stderr.write(`${chalk.red('tenantctl:')} ${error.message}\n`);
      return error.exitCode;
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
