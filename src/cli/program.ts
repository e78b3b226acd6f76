import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../common/paths.js';
import { commandTable, invokedCommand } from './command-table.js';

// The root command: global options, the overview help, and the command table.

const version: string = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;

/** The program with every command listed; `args` (without node and the script) names the one to define fully. */
export async function buildProgram(args: readonly string[]): Promise<Command> {
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
8 admin database unreachable, 9 some tenants of a batch failed (or some deliveries, renewals),
10 doctor found discrepancies, 11 the front door refused a configuration, 12 no ACME certificate,
129 hung up, 130 interrupted, 143 terminated (each rolled back).
`);

  const invoked = invokedCommand(args);
  for (const entry of commandTable) {
    const command = program.command(entry.name).description(entry.summary);
    if (entry.name === invoked) (await entry.load()).define(command);
  }
  return program;
}

