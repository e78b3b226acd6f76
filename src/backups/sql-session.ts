import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { TenantctlError } from '../common/errors.js';
import type { DockerHost } from '../engine/docker-host.js';
import { childEnvironment } from '../common/child-env.js';
import { killGraceMs } from '../common/timeouts.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// One PostgreSQL session held open across several steps: psql in the tenant's own container over its
// local socket (`docker exec -i`), fed one statement at a time. A non-exclusive backup
// (pg_backup_start .. pg_backup_stop) and a temporary replication slot belong to the session that
// made them: when this process dies (kill -9 included) docker's stdin closes, psql ends, and
// PostgreSQL aborts the backup and drops the slot by itself. Nothing is left open to clean up.

export interface SqlSession {
  /** The statement's output (psql -A -t: unaligned, tuples only), trimmed. A failing statement ends the session and throws. */
  query(sql: string): Promise<string>;
  /** Ends the session (what it held is released by PostgreSQL). */
  close(): Promise<void>;
}

export async function openSqlSession(host: DockerHost, container: string, superuser: string, { timeoutMs, signal, what }: { timeoutMs: number; signal?: AbortSignal; what: string }): Promise<SqlSession> {
  if (signal?.aborted) throw new TenantctlError('interrupted', `${what} was cancelled`);
  const { execa } = await import('execa');
  const child = execa('docker', ['exec', '-i', container, 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '/run/postgresql', '-U', superuser, '-d', 'postgres', '--no-password'], {
    reject: false, timeout: timeoutMs, cancelSignal: signal, env: childEnvironment({ ...host.env }), extendEnv: false,
    stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, forceKillAfterDelay: killGraceMs,
  });
  const tail: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split(/\r?\n/)) if (line.trim()) tail.push(line);
    while (tail.length > 20) tail.shift();
  });
  child.stdin!.on('error', () => { /* psql gone: its exit below says why */ });
  const pipe = {
    stdin: child.stdin!,
    done: child.then((result) => {
      if (result.isCanceled) throw new TenantctlError('interrupted', `${what} was cancelled`);
      if (result.timedOut) throw new TenantctlError('docker', `${what} did not finish within ${Math.round(timeoutMs / 1000)} s`);
      if (result.exitCode !== 0) throw new TenantctlError('docker', `${what} failed (exit ${result.exitCode ?? 'none'}): ${tail.at(-1) ?? result.shortMessage}`);
    }),
  };
  const lines = createInterface({ input: child.stdout! });
  let buffer: string[] = [];
  let waiting: { marker: string; resolve: (out: string) => void; reject: (error: unknown) => void } | undefined;
  let ended: unknown;
  lines.on('line', (line) => {
    if (waiting && line === waiting.marker) {
      const w = waiting;
      waiting = undefined;
      const out = buffer.join('\n').trim();
      buffer = [];
      w.resolve(out);
    } else buffer.push(line);
  });
  // psql ending (a failed statement with ON_ERROR_STOP, the server gone, a signal): its exit is the answer.
  pipe.done.then(
    () => { ended = new TenantctlError('docker', `${what}: psql ended before the session was closed`); },
    (error: unknown) => { ended = error; },
  ).finally(() => waiting?.reject(ended)).catch(ignoreFailure('said to the waiting query, or to the next one'));
  return {
    query(sql) {
      if (ended) return Promise.reject(ended);
      if (waiting) return Promise.reject(new TenantctlError('internal', 'one statement at a time in a SQL session'));
      const marker = `tenantctl-done-${randomBytes(6).toString('hex')}`;
      return new Promise<string>((resolve, reject) => {
        waiting = { marker, resolve, reject };
        pipe.stdin.write(`${sql.trim().replace(/;?$/, ';')}\n\\echo ${marker}\n`);
      });
    },
    async close() {
      if (!ended) pipe.stdin.end('\\q\n');
      await pipe.done.catch(ignoreFailure('a session ending on close: what it held is released either way'));
    },
  };
}
