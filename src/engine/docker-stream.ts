import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TenantctlError } from '../common/errors.js';
import { killGraceMs } from '../common/timeouts.js';
import type { DockerHost } from './docker-host.js';
import { childEnvironment } from '../common/child-env.js';

// docker CLI calls whose data is too big to hold in memory (a database dump, a Redis snapshot):
// stdout streamed into a file, or a file streamed into stdin, through the tenant's DockerHost like
// every other docker call. Never with a TTY (`docker exec` without -t): a TTY would rewrite the
// bytes of a binary dump. The SHA-256 and size are computed on the way, in one pass.

export interface StreamResult {
  exitCode: number;
  /** The last lines of stderr. */
  stderrTail: string;
  /** Bytes written to the file (toFile) or read from it (fromFile). */
  bytes: number;
  /** SHA-256 (hex) of those bytes. */
  sha256: string;
  /** stdout of a fromFile call (small: pg_restore --list, a status line), at most 4 MiB kept. */
  stdout: string;
  /** The first bytes that passed (up to 512): a format's magic is checked on them when there is no file to read. */
  head: Buffer;
}

/**
 * Where a stream goes or comes from: a file, or a stream (a restic backup's stdin, a restic dump's
 * stdout). A Writable given is never ended here: the caller ends it once the docker call succeeded
 * and destroys it otherwise, so a reader such as `restic backup --stdin` never takes a truncated
 * stream for a whole one.
 */
export type StreamSink = string | Writable;
export type StreamSource = string | Readable;

export interface StreamOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Extra environment for the docker CLI (e.g. a password passed on with `docker exec -e NAME`). */
  env?: Record<string, string>;
}

/** `docker <args>` with its stdout written to `file` (created, mode 0600). */
export function dockerToFile(host: DockerHost, args: string[], file: StreamSink, options: StreamOptions): Promise<StreamResult> {
  return stream(host, args, { out: file }, options);
}

/** `docker <args>` with `file` as its stdin (args should include `-i` for docker exec/run). */
export function dockerFromFile(host: DockerHost, args: string[], file: StreamSource, options: StreamOptions): Promise<StreamResult> {
  return stream(host, args, { in: file }, options);
}

/** The SHA-256 (hex) and size of a file, read as a stream. */
export async function hashFile(file: string): Promise<{ bytes: number; sha256: string }> {
  const counter = hashing();
  await pipeline(createReadStream(file), counter.transform, async function* (source) {
    for await (const _ of source) { /* drained: the transform counted it */ }
  });
  return counter.result();
}

function hashing() {
  const hash = createHash('sha256');
  let bytes = 0;
  let head = Buffer.alloc(0);
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      if (head.length < 512) head = Buffer.concat([head, chunk.subarray(0, 512 - head.length)]);
      callback(null, chunk);
    },
  });
  return { transform, result: () => ({ bytes, sha256: hash.digest('hex'), head }) };
}

async function stream(host: DockerHost, args: string[], io: { out?: StreamSink; in?: StreamSource }, options: StreamOptions): Promise<StreamResult> {
  if (options.signal?.aborted) throw new TenantctlError('interrupted', `docker ${args[0]} was cancelled`);
  const { execa } = await import('execa');
  const child = execa('docker', args, {
    reject: false,
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    env: childEnvironment({ ...options.env, ...host.env }),
    extendEnv: false,
    stdin: io.in ? 'pipe' : 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    forceKillAfterDelay: killGraceMs,
  });

  const tail: string[] = [];
  let pending = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split(/\r?\n/);
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) tail.push(line);
    while (tail.length > 40) tail.shift();
  });

  const counter = hashing();
  let stdout = '';
  const work: Promise<unknown>[] = [];
  if (typeof io.out === 'string') {
    work.push(pipeline(child.stdout!, counter.transform, createWriteStream(io.out, { mode: 0o600 })));
  } else if (io.out) {
    // Into the caller's stream, not ended here (see StreamSink); everything that passed is written when stdout ends.
    const sink = io.out;
    work.push(new Promise<void>((resolve, reject) => {
      counter.transform.on('end', resolve);
      counter.transform.on('error', reject);
      sink.on('error', reject);
      child.stdout!.pipe(counter.transform).pipe(sink, { end: false });
    }));
  } else {
    child.stdout!.on('data', (chunk: Buffer) => { if (stdout.length < 4 * 1024 * 1024) stdout += chunk.toString('utf8'); });
  }
  if (io.in) {
    // A child that exits early (pg_restore refusing its input) closes its stdin: its exit code says why.
    work.push(pipeline(typeof io.in === 'string' ? createReadStream(io.in) : io.in, counter.transform, child.stdin!).catch((error) => {
      if (!/EPIPE|ERR_STREAM_PREMATURE_CLOSE|ERR_STREAM_DESTROYED|write after end/i.test(`${error?.code} ${error?.message}`)) throw error;
    }));
  }
  const [result] = await Promise.all([child, ...work.map((w) => w.catch((error) => error))]).then(async (values) => {
    const failure = values.slice(1).find((v) => v instanceof Error);
    if (failure && !(values[0] as any).isCanceled && !(values[0] as any).timedOut) throw new TenantctlError('internal', `streaming docker ${args[0]}: ${(failure as Error).message}`, { cause: failure });
    return values;
  });
  if (pending.trim()) tail.push(pending);
  if (result.isCanceled) throw new TenantctlError('interrupted', `docker ${args[0]} was cancelled`);
  if (result.timedOut) throw new TenantctlError('docker', `docker ${args.slice(0, 2).join(' ')} did not finish within ${Math.round(options.timeoutMs / 1000)} s`);
  if (result.failed && result.exitCode === undefined) throw new TenantctlError('docker', `the docker CLI could not be started: ${result.shortMessage}`);
  return { exitCode: result.exitCode ?? 1, stderrTail: tail.join('\n'), ...counter.result(), stdout };
}
