import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Context } from '../context.js';
import { createContext } from './context.js';
import { makeReporter } from './reporter.js';
import { BatchFailure, ExitCode, TenantctlError } from '../common/errors.js';

// Runs one command: loads the config, builds the context (with Ctrl-C wired to its abort signal),
// prints the command's result as text or JSON, and closes what the context opened.

export interface GlobalOptions {
  json?: boolean;
  config?: string;
  verbose?: boolean;
  quiet?: boolean;
}

export async function withContext<T>(
  command: Command,
  work: (ctx: Context) => Promise<T>,
  render: (result: T) => string,
  { adminConnections }: { adminConnections?: number } = {},
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
  const ctx = createContext({ config, env: process.env, reporter, signal: controller.signal, adminConnections });
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
