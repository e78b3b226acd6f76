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

export interface WithContextOptions {
  /** Admin database connections; a batch needs about two per tenant in flight. */
  adminConnections?: number;
  /**
   * What Ctrl-C (SIGINT, SIGTERM) does. 'roll-back' (the default, for commands that change things):
   * says "interrupted: rolling back" and aborts the context's signal; a second one exits at once.
   * 'end': read-only and long-running commands (logs, stats) have nothing to undo: the signal is
   * aborted quietly and the command ends normally; a second one exits at once. 'child': a
   * foreground child (exec, psql) gets the signal and decides; tenantctl ends when it does.
   */
  onInterrupt?: 'roll-back' | 'end' | 'child';
  /**
   * The tenants the command is about: it runs on the Docker host they are recorded on (src/hosts/
   * resolve.ts), exit 6 naming that host when it does not answer, before anything changes.
   */
  tenantIds?: readonly unknown[];
  /** `--host <name>`: the command runs on that host of the fleet (doctor, --all batches, stats). */
  hostName?: string;
}

/** `render` null: the command's output was streamed while it ran (logs, exec); nothing more to print. */
export async function withContext<T>(
  command: Command,
  work: (ctx: Context) => Promise<T>,
  render: ((result: T) => string) | null,
  { adminConnections, onInterrupt: mode = 'roll-back', tenantIds, hostName }: WithContextOptions = {},
): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const { config, errors } = loadConfig({ cwd: process.cwd(), env: process.env, file: options.config });
  if (!config) throw new TenantctlError('usage', 'invalid configuration', { details: errors });

  const controller = new AbortController();
  let interrupts = 0;
  let terminated = false;
  const onInterrupt = (signal: NodeJS.Signals) => {
    interrupts += 1;
    // SIGTERM (a service manager, `kill`) is handled like Ctrl-C, and exits 143 as shells expect.
    terminated ||= signal === 'SIGTERM';
    if (mode === 'child') return controller.abort();
    if (interrupts > 1) process.exit(terminated ? ExitCode.terminated : ExitCode.interrupted);
    if (mode === 'roll-back') process.stderr.write('\ninterrupted: rolling back (press Ctrl-C again to stop at once and leave things as they are)\n');
    controller.abort();
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);

  const reporter = makeReporter(options);
  const ctx = createContext({ config, env: process.env, reporter, signal: controller.signal, adminConnections });
  const print = (result: T) => {
    if (render) process.stdout.write(`${options.json ? JSON.stringify(result, null, 2) : render(result)}\n`);
  };
  try {
    const result = await onItsHost(ctx, { tenantIds, hostName }, work);
    reporter.end();
    print(result);
  } catch (error) {
    // A batch with failures still has a result to show; the error then only sets the exit code.
    if (error instanceof BatchFailure) {
      print(error.result as T);
      error.reported = true;
    }
    if (terminated && error instanceof TenantctlError && error.kind === 'interrupted') {
      throw new TenantctlError('terminated', error.message.replace(/^interrupted/, 'terminated'), { cause: error, details: error.details });
    }
    throw error;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
    await ctx.close();
  }
}

/** Routes the command to its tenants' host or the named one; the fleet code loads only when asked. */
async function onItsHost<T>(ctx: Context, { tenantIds, hostName }: Pick<WithContextOptions, 'tenantIds' | 'hostName'>, work: (ctx: Context) => Promise<T>): Promise<T> {
  if (!tenantIds?.length && hostName === undefined) return work(ctx);
  const { onNamedHost, onTenantsHost } = await import('../hosts/resolve.js');
  return hostName !== undefined ? onNamedHost(ctx, hostName, work) : onTenantsHost(ctx, tenantIds!, work);
}
