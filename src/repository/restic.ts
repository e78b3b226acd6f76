import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Context } from '../context.js';
import { TenantctlError, usageError, type ExitCodeName } from '../common/errors.js';
import { childEnvironment } from '../common/child-env.js';
import { ensurePrivateDir, writePrivateFile } from '../common/private-files.js';
import { killGraceMs, resticCheckTimeoutMs, resticForgetTimeoutMs, resticLockWaitMs, resticQueryTimeoutMs, resticStreamTimeoutMs } from '../common/timeouts.js';
import { failureMeans, ignoreFailure } from '../common/ignore-failure.js';
import { isLockError, withLockRetry, withUnlockHint } from './lock-retry.js';
import { configuredRepository, type RepositoryLocation } from './location.js';
import { repositoryPassword } from './password.js';
import { pidExists } from '../common/process-identity.js';
import { unlockWhenNoneHolds } from './hold.js';

// restic, run for one repository. The password is never on argv and never in an environment a
// container could inherit: restic reads it from RESTIC_PASSWORD_FILE, a 0600 file in a 0700 folder
// of the state directory written for this one run and removed when it ends (a run killed with -9
// leaves it; the next run sweeps files of processes that are gone). (A pipe at /dev/fd/3 would keep
// it off the disk, but node gives children socket pairs, and restic 0.14 cannot open /dev/fd/N of a
// socket: ENXIO.) RESTIC_REPOSITORY and RESTIC_PASSWORD_FILE are set in restic's own environment
// only (childEnvironment: the scrubbed base, nothing of TENANTCTL_*). Its cache lives under the
// state directory. restic 0.14 exits 1 for every fatal error, so which one it was is read from its
// first error line, kept in the message.

export interface ResticRunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Streamed into restic's stdin (`backup --stdin`); restic's stdin is empty otherwise. */
  stdin?: Readable;
  /** restic's stdout streamed here (`dump`) instead of collected. */
  stdout?: Writable;
  onStderrLine?: (line: string) => void;
}

export interface ResticResult {
  /** restic's stdout when no `stdout` stream was given (at most 64 MiB kept). */
  stdout: string;
  /** The last lines of its stderr. */
  stderrTail: string;
}

export interface Repository {
  location: RepositoryLocation;
  /** Runs `restic <args>`; throws a TenantctlError (with restic's first error line) unless it exits 0. */
  run(args: readonly string[], options: ResticRunOptions): Promise<ResticResult>;
  /** `restic <args> --json`, its stdout parsed (the last JSON line for commands that print several). */
  json<T>(args: readonly string[], options: ResticRunOptions): Promise<T>;
  /**
   * What a restic in a helper container needs to open this repository (physical-files.ts): its URL,
   * the extra arguments (sftp's ssh command), the ssh files to mount, and the run's password in a
   * 0600 file that exists while `use` runs (removed after; swept like any run's when killed).
   */
  forContainer?<T>(use: (access: ContainerAccess) => Promise<T>): Promise<T>;
}

export interface ContainerAccess {
  url: string;
  extraArgs: string[];
  ssh?: { key?: string; knownHosts?: string };
  passwordFile: string;
}

export interface OpenRepositoryInput {
  url: string;
  /** For messages; the URL itself when not given. */
  display?: string;
  password: string;
  /** RESTIC_CACHE_DIR. */
  cacheDir: string;
  /** Where the run's password files go (0700); `<cacheDir>/../restic-run` when not given. */
  runDir?: string;
  /** sftp: the ssh key and known_hosts file (backups.sshKey, backups.sshKnownHosts). */
  ssh?: { key?: string; knownHosts?: string };
  /**
   * Runs the automatic `restic unlock` of a lock-error retry, or not (hold.ts unlockWhenNoneHolds:
   * only when no other tenantctl can be running restic). Without one it always runs (recover on a
   * new machine: no fleet is left running).
   */
  guardUnlock?: (unlock: () => Promise<unknown>) => Promise<unknown>;
}

/** The configured repository with its password (sealed in the admin DB, or the password file); usage error when none is configured. */
export async function openRepository(ctx: Context): Promise<Repository> {
  const location = configuredRepository(ctx.config);
  if (!location) throw usageError('no backup repository is configured: set backups.repository (TENANTCTL_BACKUP_REPOSITORY) to a local path, sftp:user@host:/path or a restic URL');
  const password = await repositoryPassword({ env: ctx.env, stateDir: ctx.config.stateDir, adminDb: () => ctx.adminDb() }, location);
  return openRepositoryWith({
    url: location.url, display: location.display, password, ...resticPaths(ctx.config.stateDir), ssh: sshOf(ctx.config),
    guardUnlock: async (unlock) => unlockWhenNoneHolds(await ctx.adminDb(), location, unlock),
  });
}

/** Where restic's cache and the run's password files live under the state directory. */
export function resticPaths(stateDir: string): { cacheDir: string; runDir: string } {
  return { cacheDir: path.join(stateDir, 'restic', 'cache'), runDir: path.join(stateDir, 'restic', 'run') };
}

function sshOf(config: Context['config']): OpenRepositoryInput['ssh'] {
  const b = config.backups;
  return b.sshKey || b.sshKnownHosts ? { key: b.sshKey, knownHosts: b.sshKnownHosts } : undefined;
}

/** A repository handle for callers without a Context (recover on a new machine, tests). */
export function openRepositoryWith(input: OpenRepositoryInput): Repository {
  const location: RepositoryLocation = { url: input.url, display: input.display ?? input.url, backend: /^([a-z0-9]+):/.exec(input.url)?.[1] ?? 'local' };
  const runDir = input.runDir ?? path.join(path.dirname(input.cacheDir), 'run');
  const extraArgs = sftpArgs(input.url, input.ssh);
  const once = (args: readonly string[], options: ResticRunOptions) => runRestic(location, input, runDir, [...extraArgs, ...args], options);
  // A streamed run (backup --stdin, dump) cannot be replayed: its lock error only names `restic unlock`.
  const run = (args: readonly string[], options: ResticRunOptions) => (options.stdin || options.stdout || args[0] === 'unlock'
    ? once(args, options).catch((error: unknown) => { throw isLockError(error) ? withUnlockHint(error as TenantctlError) : error; })
    : withLockRetry(() => once(args, options), {
      waitMs: resticLockWaitMs,
      now: Date.now,
      sleep: (ms) => abortableSleep(ms, options.signal),
      unlock: () => (input.guardUnlock ?? ((u) => u()))(() => once(['unlock'], { timeoutMs: resticQueryTimeoutMs, signal: options.signal, onStderrLine: options.onStderrLine })),
    }));
  return {
    location,
    run,
    async json<T>(args: readonly string[], options: ResticRunOptions): Promise<T> {
      const { stdout } = await run([...args, '--json'], options);
      return parseJsonOutput<T>(stdout, `restic ${args[0]}`);
    },
    async forContainer<T>(use: (access: ContainerAccess) => Promise<T>): Promise<T> {
      const passwordFile = await writeRunPasswordFile(runDir, input);
      try {
        return await use({ url: input.url, extraArgs, ssh: input.ssh, passwordFile });
      } finally {
        await rm(passwordFile, { force: true });
      }
    },
  };
}

/** The run's password in a fresh 0600 file of the 0700 run folder (left ones of gone processes swept first). */
async function writeRunPasswordFile(runDir: string, input: OpenRepositoryInput): Promise<string> {
  await ensurePrivateDir(runDir);
  await ensurePrivateDir(input.cacheDir);
  await sweepLeftPasswordFiles(runDir);
  const passwordFile = path.join(runDir, `pw-${process.pid}-${randomBytes(6).toString('hex')}`);
  await writePrivateFile(passwordFile, input.password, { exclusive: true });
  return passwordFile;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TenantctlError('interrupted', 'cancelled while waiting for the repository lock'));
    const onAbort = () => { clearTimeout(timer); reject(new TenantctlError('interrupted', 'cancelled while waiting for the repository lock')); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** restic's --json output: one document, or (backup, restore) one per line, the last being the summary. */
export function parseJsonOutput<T>(stdout: string, what: string): T {
  const text = stdout.trim();
  try {
    return JSON.parse(text) as T;
  } catch {
    const last = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{') || l.startsWith('[')).pop();
    if (last) {
      try { return JSON.parse(last) as T; } catch { /* said below */ }
    }
    throw new TenantctlError('repository', `${what} printed no JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
}

/**
 * sftp: restic runs ssh itself; with a key or known_hosts file named in the config it is told how
 * (`-o sftp.command=...`: file paths only, no secret), in batch mode (never a password prompt).
 */
export function sftpArgs(url: string, ssh: OpenRepositoryInput['ssh']): string[] {
  if (!url.startsWith('sftp:') || !ssh) return [];
  const target = sftpTarget(url);
  if (!target) return [];
  const command = ['ssh', '-o', 'BatchMode=yes'];
  if (ssh.key) command.push('-i', ssh.key, '-o', 'IdentitiesOnly=yes');
  if (ssh.knownHosts) command.push('-o', `UserKnownHostsFile=${ssh.knownHosts}`, '-o', 'StrictHostKeyChecking=yes');
  if (target.port) command.push('-p', target.port);
  command.push(target.userHost, '-s', 'sftp');
  if (command.some((part) => /\s/.test(part))) throw usageError('backups.sshKey and backups.sshKnownHosts must be paths without spaces (restic splits sftp.command on spaces)');
  return ['-o', `sftp.command=${command.join(' ')}`];
}

function sftpTarget(url: string): { userHost: string; port?: string } | undefined {
  const long = /^sftp:\/\/([^/]+?)(?::(\d+))?\//.exec(url);
  if (long) return { userHost: long[1]!, port: long[2] };
  const short = /^sftp:([^:/]+):/.exec(url);
  return short ? { userHost: short[1]! } : undefined;
}

/** restic's failures by their first error line: which exit code they get. */
export function classifyResticError(line: string): ExitCodeName {
  if (/wrong password|no key found/i.test(line)) return 'usage';
  // "unable to open config file" alone is also permission denied, S3 AccessDenied or an I/O error: not-found only when it says so.
  if (/Is there a repository at the following location|repository does not exist|config file does not exist/i.test(line)) return 'notFound';
  if (/unable to open config file/i.test(line) && /does not exist|no such file|not found|NoSuchKey/i.test(line) && !/denied|permission/i.test(line)) return 'notFound';
  if (/already locked|unable to create lock|repository is already initialized|config file already exists/i.test(line)) return 'conflict';
  return 'repository';
}

/** The line of restic's stderr that says what went wrong: the first "Fatal:" one, else the first error-ish one. */
export function firstErrorLine(stderrLines: readonly string[]): string {
  // restic clears its progress line with terminal escapes even without a terminal: not part of a message.
  // eslint-disable-next-line no-control-regex
  const lines = stderrLines.map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trim()).filter(Boolean);
  return (lines.find((l) => /^Fatal:/.test(l)) ?? lines.find((l) => /error|denied|failed|unable|wrong|invalid|no such|refused/i.test(l)) ?? lines[0] ?? '').replace(/\s+/g, ' ').slice(0, 400);
}

/** A password file older than the longest restic run (plus the kill grace) belongs to no live run, whatever its pid says now. */
export const passwordFileMaxAgeMs = Math.max(resticStreamTimeoutMs, resticForgetTimeoutMs, resticCheckTimeoutMs) + killGraceMs + 60_000;

/** Whether a left password file goes: its process is gone, or it is older than any run (its pid was reused). */
export function passwordFileLeft(name: string, ageMs: number, ownPid: number, isAlive: (pid: number) => boolean): boolean {
  const pid = Number(/^pw-(\d+)-/.exec(name)?.[1]);
  if (!Number.isInteger(pid)) return false;
  if (ageMs > passwordFileMaxAgeMs) return true;
  return pid !== ownPid && !isAlive(pid);
}

async function sweepLeftPasswordFiles(runDir: string): Promise<void> {
  const names = await readdir(runDir).catch(failureMeans([] as string[], 'no run directory: no password file left to sweep'));
  await Promise.all(names.map(async (name) => {
    const file = path.join(runDir, name);
    const modified = (await stat(file).catch(ignoreFailure('gone meanwhile (another run swept it): nothing to sweep')))?.mtimeMs;
    if (modified === undefined || !passwordFileLeft(name, Date.now() - modified, process.pid, pidExists)) return;
    await rm(file, { force: true });
  }));
}


async function runRestic(location: RepositoryLocation, input: OpenRepositoryInput, runDir: string, args: string[], options: ResticRunOptions): Promise<ResticResult> {
  const what = `restic ${args.find((a) => !a.startsWith('-') && !a.startsWith('sftp.command')) ?? ''}`.trim();
  if (options.signal?.aborted) throw new TenantctlError('interrupted', `${what} was cancelled`);
  const passwordFile = await writeRunPasswordFile(runDir, input);
  try {
    return await new Promise<ResticResult>((resolve, reject) => {
      const child = spawn('restic', args, {
        env: childEnvironment({ RESTIC_REPOSITORY: input.url, RESTIC_PASSWORD_FILE: passwordFile, RESTIC_CACHE_DIR: input.cacheDir }),
        stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
      const stderrLines: string[] = [];
      const firstLines: string[] = [];
      let pending = '';
      const keep = (line: string) => {
        if (!line.trim()) return;
        options.onStderrLine?.(line);
        if (firstLines.length < 20) firstLines.push(line);
        stderrLines.push(line);
        if (stderrLines.length > 40) stderrLines.shift();
      };
      child.stderr!.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        const lines = pending.split(/\r?\n/);
        pending = lines.pop() ?? '';
        for (const line of lines) keep(line);
      });
      let stdout = '';
      let streamError: Error | undefined;
      if (options.stdout) {
        child.stdout!.pipe(options.stdout, { end: false });
        options.stdout.on('error', (error) => { streamError ??= error; child.kill('SIGINT'); });
      } else {
        child.stdout!.on('data', (chunk: Buffer) => { if (stdout.length < 64 * 1024 * 1024) stdout += chunk.toString('utf8'); });
      }
      if (options.stdin) {
        // restic stopping early (a wrong password) closes its stdin: its exit says why, not EPIPE.
        child.stdin!.on('error', () => {});
        options.stdin.on('error', (error) => { streamError ??= error; child.kill('SIGINT'); });
        options.stdin.pipe(child.stdin!);
      }
      let timedOut = false;
      let cancelled = false;
      let killer: NodeJS.Timeout | undefined;
      // SIGINT: restic removes its lock and ends; SIGKILL after the grace if it does not.
      const stop = () => {
        child.kill('SIGINT');
        killer ??= setTimeout(() => child.kill('SIGKILL'), killGraceMs);
      };
      const timer = setTimeout(() => { timedOut = true; stop(); }, options.timeoutMs);
      const onAbort = () => { cancelled = true; stop(); };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (error) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        reject(new TenantctlError('repository', `restic could not be started (${error.message}): install restic (apt-get install restic)`, { cause: error }));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (killer) clearTimeout(killer);
        options.signal?.removeEventListener('abort', onAbort);
        if (pending.trim()) keep(pending);
        const stderrTail = stderrLines.join('\n');
        if (cancelled) return reject(new TenantctlError('interrupted', `${what} was cancelled`));
        if (timedOut) return reject(new TenantctlError('repository', `${what} on ${location.display} did not finish within ${Math.round(options.timeoutMs / 1000)} s`));
        if (code === 0) {
          if (streamError) return reject(new TenantctlError('repository', `${what}: ${streamError.message}`, { cause: streamError }));
          return resolve({ stdout, stderrTail });
        }
        const line = firstErrorLine(firstLines.concat(stderrLines)) || `exit ${code ?? signal}`;
        const kind = classifyResticError(line);
        const hint = kind === 'usage' ? ' (the repository password does not open it)' : kind === 'notFound' ? ' (tenantctl repository init creates it)' : '';
        reject(new TenantctlError(kind, `${what} on ${location.display} failed: ${line.replace(/^Fatal:\s*/, '')}${hint}`, { details: streamError ? [`input: ${streamError.message}`] : [] }));
      });
    });
  } finally {
    await rm(passwordFile, { force: true });
  }
}
