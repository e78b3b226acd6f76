// Stopping tenantctl at a named step (TENANTCTL_PAUSE_AT) to kill it there or change the world under
// it, deterministically: the run writes the pause file when it gets there, and goes on when the
// file is removed.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { cliPath, type Harness } from './harness.js';

export interface PausedRun {
  /** The running tenantctl (wrapped: a subprocess is a promise, and returning it bare would wait for it to end). */
  child: ResultPromise;
  file: string;
  /** Lets it go on from the step. */
  resume(): void;
}

/** Starts tenantctl with `args`; resolves once it waits at `step`. */
export async function startPausedAt(h: Harness, args: string[], step: string, env: Record<string, string> = {}): Promise<PausedRun> {
  const file = path.join(h.dir, `pause-${step.replace(/[^a-z]/g, '-')}`);
  rmSync(file, { force: true });
  const child = execa('node', [cliPath, ...args], {
    cwd: h.dir,
    env: { ...h.env, ...env, TENANTCTL_PAUSE_AT: step, TENANTCTL_PAUSE_FILE: file },
    reject: false,
    stdin: 'ignore',
    timeout: 300_000,
  });
  const deadline = Date.now() + 240_000;
  while (!(existsSync(file) && readFileSync(file, 'utf8').startsWith(step))) {
    if (child.exitCode !== null) throw await endedEarly(child, args, step);
    if (Date.now() > deadline) throw new Error(`tenantctl ${args.join(' ')} never reached ${step}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, file, resume: () => rmSync(file, { force: true }) };
}

/**
 * Starts tenantctl with `args`, pausing at every one of `steps` (each worker of a run that reaches
 * one waits there); resolves once `until` holds (asked every 250 ms, errors counted as not yet: the
 * admin database may not be up yet). For runs whose workers pause at different points at once,
 * where the one pause file shows only the last that wrote it.
 */
export async function startPausedUntil(h: Harness, args: string[], steps: string[], until: () => Promise<boolean>, what: string): Promise<PausedRun> {
  const file = path.join(h.dir, `pause-until-${steps.join('-').replace(/[^a-z]/g, '-')}`);
  rmSync(file, { force: true });
  const child = execa('node', [cliPath, ...args], {
    cwd: h.dir,
    env: { ...h.env, TENANTCTL_PAUSE_AT: steps.join(','), TENANTCTL_PAUSE_FILE: file },
    reject: false,
    stdin: 'ignore',
    timeout: 300_000,
  });
  const deadline = Date.now() + 240_000;
  while (!(await until().catch(() => false))) {
    if (child.exitCode !== null) throw await endedEarly(child, args, what);
    if (Date.now() > deadline) throw new Error(`tenantctl ${args.join(' ')} never reached ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { child, file, resume: () => rmSync(file, { force: true }) };
}

/**
 * The run ended before its pause: its exit code and the end of what it said first (the summary
 * reporter keeps a failure's first lines, and the cause is in the last ones), then the rest.
 */
async function endedEarly(child: ResultPromise, args: string[], step: string): Promise<Error> {
  const ended = await child;
  const lines = String(ended.stderr).split('\n').filter((l) => l.trim() !== '');
  const stdout = String(ended.stdout).trim();
  return new Error([
    `tenantctl ${args.join(' ')} ended (exit ${ended.exitCode}) before ${step}; its last lines:`,
    ...lines.slice(-4),
    ...(stdout ? [`stdout: ${stdout.slice(0, 2000)}`] : []),
    '(all of stderr:)', ...lines,
  ].join('\n'));
}
