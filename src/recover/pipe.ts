import { TenantctlError } from '../common/errors.js';
import { killGraceMs } from '../common/timeouts.js';
import { childEnvironment } from '../common/child-env.js';

// Two programs joined by a pipe, without a shell and without a copy on disk: a dump's producer
// (`docker exec … pg_dump`, `restic dump`) and its consumer (`restic backup --stdin`, `docker exec -i
// … psql`). Both are argv arrays with their own environment, one timeout and the command's signal.
// Either side failing fails the pipe, with that side's first stderr lines: the first cause.

export interface PipeSide {
  argv: readonly string[];
  env?: Record<string, string>;
  /** For messages: "pg_dump of the admin database", "restic backup". */
  what: string;
}

export interface PipeOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Written to the consumer before the producer's output. */
  prologue?: string;
  /** Written to the consumer after the producer's output ends (a restore's closing statements). */
  trailer?: string;
  /** The error kind when a side fails (docker, repository, adminDb, ...). */
  failure: (side: PipeSide, exitCode: number, stderr: string) => TenantctlError;
}

export interface PipeResult {
  /** Bytes that went through the pipe. */
  bytes: number;
  /** The producer's last bytes (a dump's closing line says it is whole). */
  producerTail: string;
  /** The consumer's stdout (restic's --json summary), up to 1 MiB. */
  consumerStdout: string;
}

export async function pipeChildren(producer: PipeSide, consumer: PipeSide, options: PipeOptions): Promise<PipeResult> {
  if (options.signal?.aborted) throw new TenantctlError('interrupted', `${producer.what} was cancelled`);
  const { execa } = await import('execa');
  const spawn = (side: PipeSide, stdin: 'pipe' | 'ignore') => execa(side.argv[0]!, side.argv.slice(1), {
    reject: false,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    env: childEnvironment(side.env),
    extendEnv: false,
    stdin,
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    forceKillAfterDelay: killGraceMs,
  });
  const source = spawn(producer, 'ignore');
  const sink = spawn(consumer, 'pipe');
  const stderrOf = (child: typeof source) => {
    const lines: string[] = [];
    child.stderr!.on('data', (chunk: Buffer) => {
      lines.push(...chunk.toString('utf8').split(/\r?\n/).filter((l) => l.trim()));
      if (lines.length > 20) lines.splice(0, lines.length - 20);
    });
    return lines;
  };
  const sourceErr = stderrOf(source);
  const sinkErr = stderrOf(sink);
  let consumerStdout = '';
  sink.stdout!.on('data', (chunk: Buffer) => { if (consumerStdout.length < 1024 * 1024) consumerStdout += chunk.toString('utf8'); });

  let bytes = 0;
  let tail = Buffer.alloc(0);
  const feeding = (async () => {
    try {
      if (options.prologue) sink.stdin!.write(options.prologue);
      for await (const chunk of source.stdout!) {
        bytes += (chunk as Buffer).length;
        tail = Buffer.concat([tail, chunk as Buffer]).subarray(-256);
        if (!sink.stdin!.write(chunk)) await new Promise((resolve) => sink.stdin!.once('drain', resolve));
      }
      // Only a producer that ended well has its trailer written: a cut-off dump must not be committed.
      const produced = await source;
      if (produced.exitCode === 0 && options.trailer) sink.stdin!.write(options.trailer);
    } catch {
      // The consumer closed its stdin early (it failed): its exit code says why.
    } finally {
      sink.stdin!.end();
    }
  })();

  const [produced, consumed] = await Promise.all([source, sink, feeding]);
  if (produced.isCanceled || consumed.isCanceled) throw new TenantctlError('interrupted', `${producer.what} into ${consumer.what} was cancelled`);
  if (produced.timedOut || consumed.timedOut) throw new TenantctlError('docker', `${producer.what} into ${consumer.what} did not finish within ${Math.round(options.timeoutMs / 1000)} s`);
  // The producer's failure first: a consumer that failed on a cut-off stream is its consequence.
  if (produced.exitCode !== 0) throw options.failure(producer, produced.exitCode ?? 1, sourceErr.join('\n'));
  if (consumed.exitCode !== 0) throw options.failure(consumer, consumed.exitCode ?? 1, sinkErr.join('\n'));
  return { bytes, consumerStdout, producerTail: tail.toString('utf8') };
}
