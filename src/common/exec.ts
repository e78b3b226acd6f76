import { killGraceMs } from './timeouts.js';
import type { ChildTracking } from './grouped-child.js';
import { GroupedRun } from './grouped-run.js';
import { childEnvironment } from './child-env.js';

export interface RunOptions {
  /** Every external call has one: a hung docker must not hang tenantctl. */
  timeoutMs: number;
  signal?: AbortSignal;
  env?: Record<string, string>;
  cwd?: string;
  /** Called with each stderr line as it arrives (compose prints progress there even on success). */
  onStderrLine?: (line: string) => void;
  /**
   * Run it in its own process group, recorded while it runs (grouped-child.ts): for calls that
   * change a compose project, so that all of one (the docker CLI and its compose plugin) stops on
   * Ctrl-C or the timeout, and a later tenantctl can stop it if this one is killed meanwhile.
   */
  ownGroup?: ChildTracking;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  /** The last lines of stderr only: long outputs are streamed, never held whole. */
  stderrTail: string;
  timedOut: boolean;
  cancelled: boolean;
}

const stderrTailLines = 40;

/**
 * Runs argv[0] with argv[1..] (no shell). Never throws for a non-zero exit: callers judge
 * success by exitCode, never by what was printed to stderr. Throws only if the program cannot start.
 */
export async function run(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  const tail: string[] = [];
  // Loaded on first use: commands that never run a program do not pay for execa's start-up.
  const { execa } = await import('execa');
  const grouped = options.ownGroup ? GroupedRun.prepare(options.ownGroup, options) : undefined;
  const subprocess = execa(file, args, {
    reject: false,
    // A grouped child's timeout is one of the signals it is cancelled on (grouped-run.ts).
    timeout: grouped ? undefined : options.timeoutMs,
    cancelSignal: grouped ? grouped.cancelSignal : options.signal,
    detached: grouped !== undefined,
    // Only what the program needs (child-env.ts), then the call's own values: never tenantctl's whole
    // environment, which compose would interpolate into containers.
    env: childEnvironment(options.env),
    extendEnv: false,
    cwd: options.cwd,
    stdin: 'ignore',
    // A descriptor number goes to the child as is (execa's types list only 3-9; it takes any).
    stderr: grouped ? (grouped.stderrFd as 3) : 'pipe',
    buffer: { stdout: true, stderr: false },
    maxBuffer: { stdout: 32 * 1024 * 1024 },
    forceKillAfterDelay: killGraceMs,
  });
  const keepLine = (line: string) => {
    if (line.trim() === '') return;
    options.onStderrLine?.(line);
    tail.push(line);
    if (tail.length > stderrTailLines) tail.shift();
  };
  let pending = '';
  const onStderr = (text: string) => {
    pending += text;
    const lines = pending.split(/\r?\n/);
    pending = lines.pop() ?? '';
    for (const line of lines) keepLine(line);
  };
  subprocess.stderr?.on('data', (chunk: Buffer) => onStderr(chunk.toString('utf8')));
  grouped?.started(subprocess.pid, argv, onStderr);
  const result = await subprocess;
  await grouped?.ended();
  if (pending) keepLine(pending);
  if (result.failed && result.exitCode === undefined && !result.timedOut && !result.isCanceled) {
    // The program could not be started at all (ENOENT, EACCES): that is not an exit status.
    throw new Error(`${file}: ${result.shortMessage}`, { cause: result });
  }
  const timedOut = result.timedOut || (grouped?.timedOut(result.isCanceled) ?? false);
  return {
    exitCode: result.exitCode ?? (result.timedOut || result.isCanceled ? 124 : 1),
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderrTail: tail.join('\n'),
    timedOut,
    cancelled: result.isCanceled && !timedOut,
  };
}

/** The most useful single line of a failed command's stderr: the last one that says "error". */
export function lastErrorLine(stderrTail: string): string {
  const lines = stderrTail.split('\n').map((l) => l.trim()).filter(Boolean);
  const errorLine = [...lines].reverse().find((l) => /error|denied|not found|failed|invalid|no such/i.test(l));
  return (errorLine ?? lines[lines.length - 1] ?? '').replace(/\s+/g, ' ').slice(0, 400);
}
