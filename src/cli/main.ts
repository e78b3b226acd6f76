import { CommanderError } from 'commander';
import chalk from 'chalk';
import { ExitCode, TenantctlError, messageOf } from '../common/errors.js';
import { buildProgram } from './program.js';
import { ChildExited } from './child-exit.js';

// src/cli/ is the only place that parses argv, prints, and exits. Commands take plain input and
// return data; this layer renders that data for people or as JSON, and main() maps every error to
// one exit code.

/** The one error handler: a typed error becomes its exit code and one line (or a JSON document). */
export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(argv.slice(2));
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    // exec, psql, redis-cli: the child's own exit code is tenantctl's; it has said what it had to say.
    if (error instanceof ChildExited) return error.exitCode;
    if (error instanceof CommanderError) {
      // help and version are "errors" to commander; bad flags are usage errors (commander printed them).
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return ExitCode.ok;
      if (json) printJsonError('usage', ExitCode.usage, error.message.replace(/^error: /, ''), []);
      return ExitCode.usage;
    }
    if (error instanceof TenantctlError && error.reported) {
      // The command's own result (a batch's, with each failure; the doctor's) is already on stdout.
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
