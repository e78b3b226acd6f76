import type { Command } from 'commander';
import chalk from 'chalk';
import { createInterface } from 'node:readline/promises';
import { loadConfig } from '../config/load.js';
import { createContext, type Context, type Reporter } from '../context.js';
import { BatchFailure, ExitCode, TenantctlError } from '../errors.js';

// Runs one command: loads the config, builds the context (with Ctrl-C wired to its abort signal),
// prints the command's result as text or JSON, and closes what the context opened.

export interface GlobalOptions {
  json?: boolean;
  config?: string;
  verbose?: boolean;
  quiet?: boolean;
}

export function makeReporter(options: GlobalOptions): Reporter {
  const quiet = options.quiet === true;
  let current: { label: string; at: number } | undefined;
  const finish = () => {
    if (current && !quiet) process.stderr.write(`${chalk.dim(`  done in ${((Date.now() - current.at) / 1000).toFixed(1)} s`)}\n`);
    current = undefined;
  };
  return {
    step(label) {
      finish();
      current = { label, at: Date.now() };
      if (!quiet) process.stderr.write(`${chalk.cyan('›')} ${label}\n`);
    },
    info(message) {
      if (!quiet) process.stderr.write(`  ${message}\n`);
    },
    detail(line) {
      if (options.verbose) process.stderr.write(chalk.dim(`    ${line}\n`));
    },
    end: finish,
  };
}

export async function withContext<T>(
  command: Command,
  work: (ctx: Context) => Promise<T>,
  render: (result: T) => string,
  { registryConnections }: { registryConnections?: number } = {},
): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const { config, errors } = loadConfig({ cwd: process.cwd(), env: process.env, file: options.config });
  if (!config) throw new TenantctlError('usage', 'invalid configuration', { details: errors });

  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(ExitCode.interrupted);
    process.stderr.write('\ninterrupted: rolling back (press Ctrl-C again to stop at once and leave things as they are)\n');
    controller.abort();
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);

  const reporter = makeReporter(options);
  const ctx = createContext({ config, env: process.env, reporter, signal: controller.signal, registryConnections });
  const print = (result: T) => process.stdout.write(`${options.json ? JSON.stringify(result, null, 2) : render(result)}\n`);
  try {
    const result = await work(ctx);
    reporter.end();
    print(result);
  } catch (error) {
    // A batch with failures still has a result to show; the error then only sets the exit code.
    if (error instanceof BatchFailure) {
      print(error.result as T);
      error.reported = true;
    }
    throw error;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
    await ctx.close();
  }
}

export async function confirmInteractively(ids: string[]): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const expected = ids.length === 1 ? ids[0]! : 'yes';
    const what = ids.length === 1 ? `${ids[0]}'s` : `the ${ids.length} tenants' (${ids.join(', ')})`;
    const answer = await rl.question(`This removes ${what} containers, network, volumes and data. Type ${ids.length === 1 ? 'the tenant id' : '"yes"'} to confirm: `);
    return answer.trim() === expected;
  } finally {
    rl.close();
  }
}

