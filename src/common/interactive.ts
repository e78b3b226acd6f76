import { spawn } from 'node:child_process';
import { killGraceMs } from './timeouts.js';
import { childEnvironment } from './child-env.js';

// Running a program in the foreground, as if the user had typed it: stdin, stdout and stderr are
// the caller's own (inherited, never buffered, so a followed log or a psql session streams as it
// comes), the signals tenantctl receives are passed on to it, and its exit status is the answer.
// `run` (exec.ts) is the other kind: a call whose output tenantctl reads.

export interface ForegroundOptions {
  /** Variables added to the child's environment (e.g. a password the child reads from there, not argv). */
  env?: Record<string, string>;
  /** Absent for interactive sessions: a psql session may rightly last all day. */
  timeoutMs?: number;
  /** Ends the child (SIGTERM, then SIGKILL after killGraceMs). */
  signal?: AbortSignal;
  /** stdin: inherited by default; 'ignore' for children that must not read the caller's input. */
  stdin?: 'inherit' | 'ignore';
}

export interface ForegroundResult {
  /** The child's exit code; 128 + signal number when a signal ended it (as a shell reports it). */
  exitCode: number;
  /** The signal that ended the child, if one did. */
  signal?: NodeJS.Signals;
  /** Signals tenantctl received (and passed on) while the child ran. */
  forwarded: NodeJS.Signals[];
  timedOut: boolean;
  cancelled: boolean;
}

const forwardedSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGPIPE: 13 };

/**
 * Runs argv in the foreground (no shell) and resolves with how it ended; never throws for a
 * non-zero exit. Throws only if the program cannot be started. While it runs, SIGINT, SIGTERM,
 * SIGHUP and SIGQUIT sent to tenantctl go to the child instead of ending tenantctl: the child
 * decides (psql cancels its query on SIGINT and carries on), and tenantctl ends when it does.
 * (Ctrl-C on a terminal reaches both anyway, being sent to the whole foreground process group.)
 */
export function runForeground(argv: readonly string[], options: ForegroundOptions = {}): Promise<ForegroundResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runForeground: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [options.stdin ?? 'inherit', 'inherit', 'inherit'],
      // What every child gets (child-env.ts: no TENANTCTL_*), plus `env`.
      env: childEnvironment(options.env),
    });
    const forwarded: NodeJS.Signals[] = [];
    let timedOut = false;
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const end = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), killGraceMs);
    };
    const handlers = forwardedSignals.map((name) => {
      const handler = () => {
        forwarded.push(name);
        if (child.exitCode === null && child.signalCode === null) child.kill(name);
      };
      process.on(name, handler);
      return [name, handler] as const;
    });
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      end();
    }, options.timeoutMs);
    const onAbort = () => {
      cancelled = true;
      end();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const cleanUp = () => {
      for (const [name, handler] of handlers) process.off(name, handler);
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (error) => {
      cleanUp();
      reject(new Error(`${file}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      cleanUp();
      resolve({
        exitCode: code ?? 128 + (signal ? (signalNumbers[signal] ?? 1) : 1),
        signal: signal ?? undefined,
        forwarded,
        timedOut,
        cancelled,
      });
    });
  });
}
