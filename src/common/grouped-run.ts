import { GroupedChild, type ChildTracking } from './grouped-child.js';
import { FollowedOutput } from './child-output.js';

/**
 * What run() does differently for a child in its own process group (RunOptions.ownGroup): its
 * stderr goes to a followed file (child-output.ts), it is recorded while it runs
 * (grouped-child.ts), and the command's signal and the timeout stop the whole group. execa stops
 * only the first process of a child, and a child in its own group no longer gets the terminal's
 * Ctrl-C, so the timeout is made a signal too and either one stops the group.
 */
export class GroupedRun {
  /** The command's signal or the timeout, whichever fires first: what execa is given to cancel on. */
  readonly cancelSignal: AbortSignal;
  private readonly timeout: AbortSignal;
  private readonly output: FollowedOutput;
  private child?: GroupedChild;
  private readonly stop = () => void this.child?.stop(); // awaited by ended()

  private constructor(private readonly tracking: ChildTracking, { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal }) {
    this.timeout = AbortSignal.timeout(timeoutMs);
    this.cancelSignal = signal ? AbortSignal.any([signal, this.timeout]) : this.timeout;
    this.output = FollowedOutput.create(tracking.recordsDir);
  }

  /** Before the spawn: a records directory that cannot be made stops the call before anything runs. */
  static prepare(tracking: ChildTracking, options: { timeoutMs: number; signal?: AbortSignal }): GroupedRun {
    GroupedChild.prepare(tracking);
    return new GroupedRun(tracking, options);
  }

  /** The descriptor the child writes its stderr to. */
  get stderrFd(): number {
    return this.output.fd;
  }

  /** Right after the spawn (pid undefined: it did not start). */
  started(pid: number | undefined, argv: readonly string[], onStderr: (text: string) => void): void {
    this.output.closeWriter();
    if (pid !== undefined) {
      this.child = GroupedChild.started(pid, argv, this.tracking, this.output.file);
      if (this.cancelSignal.aborted) this.stop();
      else this.cancelSignal.addEventListener('abort', this.stop, { once: true });
    }
    this.output.follow(onStderr);
  }

  /** After the first process ended: the call is over only when nothing of its group runs any more. */
  async ended(): Promise<void> {
    this.cancelSignal.removeEventListener('abort', this.stop);
    await this.child?.finish();
    this.output.finish();
  }

  /** execa reports our timeout as a cancel: whichever fired first says which it was. */
  timedOut(cancelled: boolean): boolean {
    return cancelled && this.timeout.aborted && this.cancelSignal.reason === this.timeout.reason;
  }
}
