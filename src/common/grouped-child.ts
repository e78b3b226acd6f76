import { TenantctlError, messageOf } from './errors.js';
import { ensureChildRecordsDir, removeChildRecord, writeChildRecord } from './child-records.js';
import { ownIdentity, processIdentity } from './process-identity.js';
import { groupHasMembers, stopProcessGroup } from './process-group.js';
import { killGraceMs, killWaitMs } from './timeouts.js';

/** Where and under which key (a compose project) a child run in its own process group is recorded. */
export interface ChildTracking {
  recordsDir: string;
  key: string;
}

/**
 * A child started in its own process group (execa `detached`), with everything it starts: the
 * docker CLI and the compose plugin it runs are one group, stopped together (stop(), on the
 * command's signal or the timeout: grouped-run.ts). Recorded in `recordsDir` from its start until
 * none of the group is left, so that a later tenantctl can find what a killed one left running
 * (orphan-reaper.ts).
 */
export class GroupedChild {
  private stopping?: Promise<boolean>;

  private constructor(readonly pgid: number, private readonly what: string, private readonly record: string | undefined) {
    live.add(this);
    stopLiveGroupsOnExit();
  }

  /** Called before the spawn: a records directory that cannot be made stops the call before anything runs. */
  static prepare(tracking: ChildTracking): void {
    try {
      ensureChildRecordsDir(tracking.recordsDir);
    } catch (error) {
      throw new TenantctlError('usage', `cannot make ${tracking.recordsDir} (where running compose calls are recorded): ${messageOf(error)}; stateDir (TENANTCTL_STATE_DIR) must be a writable directory`, { cause: error });
    }
  }

  /** Called right after the spawn, before anything else runs. */
  static started(pid: number, argv: readonly string[], tracking: ChildTracking, output?: string): GroupedChild {
    const identity = processIdentity(pid);
    let record: string | undefined;
    if (identity) {
      try {
        record = writeChildRecord(tracking.recordsDir, identity, { key: tracking.key, argv, owner: ownIdentity(), output });
      } catch {
        // The child already runs: failing the call for its bookkeeping would turn a full disk into a
        // failed provision. It is still stopped on Ctrl-C, a timeout and tenantctl's exit; only a
        // kill -9 of tenantctl would leave it unrecorded.
      }
    }
    // (No identity: it ended before it could be read; there is nothing to record.) A detached
    // child is the leader of a new group: its pgid is its pid.
    return new GroupedChild(pid, argv.slice(0, 2).join(' '), record);
  }

  /** SIGTERM to the group, SIGKILL after killGraceMs; once, however often it is asked. Whether it is gone. */
  stop(): Promise<boolean> {
    return (this.stopping ??= stopProcessGroup(this.pgid, { graceMs: killGraceMs, killWaitMs, what: this.what }));
  }

  /**
   * After the leader ended: whatever of the group is still running (normally nothing: the docker CLI
   * waits for its plugin) is stopped, then the record goes. A group that would not stop keeps its
   * record, for a later tenantctl to try again.
   */
  async finish(): Promise<void> {
    const gone = this.stopping ? await this.stopping : !groupHasMembers(this.pgid) || (await this.stop());
    live.delete(this);
    if (gone && this.record) removeChildRecord(this.record);
  }
}

/** This process's groups still running. */
const live = new Set<GroupedChild>();
let exitHookInstalled = false;

/**
 * tenantctl exiting while a group runs (a second Ctrl-C exits at once): the groups get SIGTERM,
 * as children in tenantctl's own group got the terminal's signal before they had groups of their
 * own. Nothing can be waited for at exit, so their records stay: the next tenantctl finds whatever
 * has not ended by then and stops it.
 */
function stopLiveGroupsOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        process.kill(-child.pgid, 'SIGTERM');
      } catch {
        // ESRCH: that group has just ended.
      }
    }
  });
}
