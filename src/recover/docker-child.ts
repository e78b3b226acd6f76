import type { Readable, Writable } from 'node:stream';
import { TenantctlError } from '../common/errors.js';
import { killGraceMs } from '../common/timeouts.js';
import { childEnvironment } from '../common/child-env.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// One side of a stream between the admin database's container and the repository: `docker exec …
// pg_dump` read from, or `docker exec -i … psql` written to, an argv array with a timeout and the
// command's signal. Its stderr's last lines are kept for the error that names its exit.

export interface DockerChild {
  stdout: Readable | null;
  stdin: Writable | null;
  /** Its end: exit code 0, or the error naming how it failed. */
  ended: Promise<void>;
}

export async function startDockerChild(
  argv: readonly string[],
  { env, input, timeoutMs, signal, what, kind }: { env: Record<string, string>; input: boolean; timeoutMs: number; signal?: AbortSignal; what: string; kind: 'adminDb' | 'docker' },
): Promise<DockerChild> {
  const { execa } = await import('execa');
  const child = execa(argv[0]!, argv.slice(1), {
    reject: false,
    timeout: timeoutMs,
    cancelSignal: signal,
    env: childEnvironment(env),
    extendEnv: false,
    stdin: input ? 'pipe' : 'ignore',
    stdout: input ? 'ignore' : 'pipe',
    stderr: 'pipe',
    buffer: false,
    forceKillAfterDelay: killGraceMs,
  });
  const lines: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split(/\r?\n/).filter((l) => l.trim()));
    if (lines.length > 20) lines.splice(0, lines.length - 20);
  });
  // A consumer that stops early closes our pipe: its exit code says why, not EPIPE.
  child.stdin?.on('error', () => {});
  const ended = child.then((result) => {
    if (result.isCanceled) throw new TenantctlError('interrupted', `${what} was cancelled`);
    if (result.timedOut) throw new TenantctlError(kind, `${what} did not finish within ${Math.round(timeoutMs / 1000)} s`);
    if (result.exitCode !== 0) {
      const first = lines.find((l) => /ERROR|FATAL|error/.test(l)) ?? lines[0] ?? result.shortMessage;
      throw new TenantctlError(kind, `${what} failed (exit ${result.exitCode ?? result.signal}): ${first}`);
    }
  });
  ended.catch(ignoreFailure('awaited by the caller; never an unhandled rejection meanwhile'));
  return { stdout: child.stdout, stdin: child.stdin, ended };
}
