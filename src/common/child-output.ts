import { closeSync, openSync, readSync, rmSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { ownIdentity } from './process-identity.js';

let made = 0;

/**
 * A grouped child's stderr, written to a file that tenantctl follows instead of a pipe to it. A
 * pipe breaks when tenantctl dies, and the child then dies at its next line (SIGPIPE) while
 * requests it had already sent the engine are still being carried out, unseen by anyone. Writing
 * to a file it goes on to its own end, and that end means everything it asked for is done: what
 * a later tenantctl waits for before it touches the stack (orphan-reaper.ts).
 */
export class FollowedOutput {
  private readonly reader: number;
  private offset = 0;
  // A character split between two reads is decoded whole.
  private readonly decoder = new StringDecoder('utf8');
  private watcher?: FSWatcher;
  private onText?: (text: string) => void;
  private finished = false;

  private constructor(readonly file: string, readonly fd: number) {
    this.reader = openSync(file, 'r');
  }

  /** A new file in `dir` (named after this process, pid and start time, so no other's is ever reused), open for the child to write. */
  static create(dir: string): FollowedOutput {
    made += 1;
    const own = ownIdentity();
    const file = path.join(dir, `.output.${own.pid}-${own.startTime}.${made}.log`);
    return new FollowedOutput(file, openSync(file, 'w', 0o600));
  }

  /** Hands the child's writes to `onText` as they come (inotify: no polling), and whatever is there already. */
  follow(onText: (text: string) => void): void {
    this.onText = onText;
    try {
      this.watcher = watch(this.file, () => this.readNew());
      this.watcher.on('error', () => this.watcher?.close()); // the rest is read at the end
    } catch {
      // No watch available (inotify limits): the output comes all at once when the child ends.
    }
    this.readNew();
  }

  /** The spawned child has its own copy of the descriptor: tenantctl's is closed. */
  closeWriter(): void {
    closeSync(this.fd);
  }

  /** After the child ended: the rest of its output, then the file goes. */
  finish(): void {
    this.watcher?.close();
    this.readNew();
    this.finished = true; // a change event still queued must not read a closed file
    const rest = this.decoder.end();
    if (rest) this.onText?.(rest);
    closeSync(this.reader);
    rmSync(this.file, { force: true });
  }

  private readNew(): void {
    if (this.finished) return;
    const buffer = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = readSync(this.reader, buffer, 0, buffer.length, this.offset);
      if (n <= 0) return;
      this.offset += n;
      this.onText?.(this.decoder.write(buffer.subarray(0, n)));
    }
  }
}
