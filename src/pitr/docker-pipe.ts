import type { Readable, Writable } from 'node:stream';
import { TenantctlError } from '../common/errors.js';
import { childEnvironment } from '../common/child-env.js';
import { killGraceMs } from '../common/timeouts.js';
import type { DockerHost } from '../engine/docker-host.js';

// A docker CLI call whose stdout or stdin is one end of a stream to restic: a tar of WAL segments or
// a base backup from `docker exec` straight into `restic backup --stdin`, and `restic dump` straight
// into a helper container's tar. Nothing is held in memory or written to the host's disk.

export interface DockerPipe {
  /** docker's stdout (out: true) or stdin (in: true). */
  stdout?: Readable;
  stdin?: Writable;
  /** docker's exit: a TenantctlError (with its last error line) unless it exits 0. */
  done: Promise<void>;
  kill(): void;
}

export async function dockerPipe(host: DockerHost, args: string[], io: { out?: boolean; in?: boolean }, { timeoutMs, signal, what }: { timeoutMs: number; signal?: AbortSignal; what: string }): Promise<DockerPipe> {
  if (signal?.aborted) throw new TenantctlError('interrupted', `${what} was cancelled`);
  const { execa } = await import('execa');
  const child = execa('docker', args, {
    reject: false, timeout: timeoutMs, cancelSignal: signal, env: childEnvironment({ ...host.env }), extendEnv: false,
    stdin: io.in ? 'pipe' : 'ignore', stdout: io.out ? 'pipe' : 'ignore', stderr: 'pipe', buffer: false, forceKillAfterDelay: killGraceMs,
  });
  const tail: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split(/\r?\n/)) if (line.trim()) tail.push(line);
    while (tail.length > 20) tail.shift();
  });
  // A reader that stops early (restic failing) closes the pipe: docker's exit code says why.
  child.stdin?.on('error', () => {});
  const done = child.then((result) => {
    if (result.isCanceled) throw new TenantctlError('interrupted', `${what} was cancelled`);
    if (result.timedOut) throw new TenantctlError('docker', `${what} did not finish within ${Math.round(timeoutMs / 1000)} s`);
    if (result.exitCode !== 0) throw new TenantctlError('docker', `${what} failed (exit ${result.exitCode ?? 'none'}): ${tail.at(-1) ?? result.shortMessage}`);
  });
  return { stdout: child.stdout ?? undefined, stdin: child.stdin ?? undefined, done, kill: () => child.kill('SIGKILL') };
}
