import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Context } from '../context.js';
import { createContext } from './context.js';
import { makeReporter } from './reporter.js';
import { BatchFailure, ExitCode, TenantctlError, messageOf } from '../common/errors.js';

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
  /** How long idle admin database connections are kept (default 1 s; the agent: longer than its ticks). */
  adminIdleMs?: number;
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
  /**
   * It only reads (status, logs, exec, stats): it is routed to the tenants' host as they are, without
   * settling an operation a killed run left (every command that changes a tenant settles it first).
   */
  readOnly?: boolean;
}

/** `render` null: the command's output was streamed while it ran (logs, exec); nothing more to print. */
export async function withContext<T>(
  command: Command,
  work: (ctx: Context) => Promise<T>,
  render: ((result: T) => string) | null,
  { adminConnections, adminIdleMs, onInterrupt: mode = 'roll-back', tenantIds, hostName, readOnly }: WithContextOptions = {},
): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions>();
  const { config, errors } = loadConfig({ cwd: process.cwd(), env: process.env, file: options.config });
  if (!config) throw new TenantctlError('usage', 'invalid configuration', { details: errors });

  const controller = new AbortController();
  const reporter = makeReporter(options);
  let interrupts = 0;
  // The first signal, and the step it stopped: what an interrupted command's message says first.
  let stoppedBy: { kind: 'interrupted' | 'terminated' | 'hangup'; step: string | undefined } | undefined;
  const onInterrupt = (signal: NodeJS.Signals) => {
    interrupts += 1;
    // SIGTERM (a service manager, `kill`) and SIGHUP (the terminal or ssh session went away) are
    // handled like Ctrl-C, and exit 143 and 129 as shells expect.
    stoppedBy ??= { kind: signal === 'SIGTERM' ? 'terminated' : signal === 'SIGHUP' ? 'hangup' : 'interrupted', step: reporter.currentStep() };
    // The terminal is gone: writing to it fails (EIO), and Node may abort on a TTY write: say nothing more there.
    if (signal === 'SIGHUP') muteTerminals();
    if (mode === 'child') return controller.abort();
    if (interrupts > 1) process.exit(ExitCode[stoppedBy.kind]);
    if (mode === 'roll-back') process.stderr.write('\ninterrupted: rolling back (press Ctrl-C again to stop at once and leave things as they are)\n');
    controller.abort();
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  process.on('SIGHUP', onInterrupt);

  const ctx = createContext({ config, env: process.env, reporter, signal: controller.signal, adminConnections, adminIdleMs });
  const print = (result: T) => {
    if (render) process.stdout.write(`${options.json ? JSON.stringify(result, null, 2) : render(result)}\n`);
  };
  try {
    const result = await onItsHost(ctx, { tenantIds, hostName, readOnly }, work);
    reporter.end();
    print(result);
  } catch (error) {
    // A batch with failures still has a result to show; the error then only sets the exit code.
    if (error instanceof BatchFailure) {
      print(error.result as T);
      error.reported = true;
    }
    // After a signal the signal is the first cause, whatever the command's own error says ("docker
    // exec was cancelled"): the message names the step it stopped, the command's account of what it
    // undid follows in the details, and the exit code is the signal's.
    if (stoppedBy && mode !== 'child' && !(error instanceof TenantctlError && error.reported)) throw interruptedError(stoppedBy, error);
    throw error;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
    process.off('SIGHUP', onInterrupt);
    await ctx.close();
  }
}

/** After SIGHUP: stdout and stderr that are terminals take no more writes (the rollback goes on, silently). */
function muteTerminals(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.isTTY) stream.write = () => true;
  }
}

function interruptedError(stoppedBy: { kind: 'interrupted' | 'terminated' | 'hangup'; step: string | undefined }, error: unknown): TenantctlError {
  const word = { interrupted: 'interrupted', terminated: 'terminated', hangup: 'hung up (SIGHUP)' }[stoppedBy.kind];
  const own = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  // A message that only says the call was cancelled adds nothing to "interrupted while ...".
  const said = /^(interrupted|terminated)$|was cancelled$/.test(own.message) ? [] : [own.message];
  // No step reported yet: the command's own "interrupted while ..." says where, if it has one.
  const where = stoppedBy.step ? ` while ${stoppedBy.step}` : /^interrupted( while .*)$/.exec(own.message)?.[1] ?? '';
  return new TenantctlError(stoppedBy.kind, `${word}${where}`, { cause: error, details: [...said.filter((m) => !m.endsWith(where) || where === ''), ...own.details] });
}

/** Routes the command to its tenants' host or the named one; the fleet code loads only when asked. */
async function onItsHost<T>(ctx: Context, { tenantIds, hostName, readOnly }: Pick<WithContextOptions, 'tenantIds' | 'hostName' | 'readOnly'>, work: (ctx: Context) => Promise<T>): Promise<T> {
  if (!tenantIds?.length && hostName === undefined) return work(ctx);
  const { onNamedHost, onTenantsHost } = await import('../hosts/resolve.js');
  return hostName !== undefined ? onNamedHost(ctx, hostName, work) : onTenantsHost(ctx, tenantIds!, work, { readOnly });
}
