import { lockSpaces, type AdminDb } from '../admin-db/database.js';
import type { AgentLoop } from './loop.js';
import type { TermOfLeadership } from './context.js';
import type { LeaderSession } from '../schedules/store.js';
import { ignoreFailure } from '../common/ignore-failure.js';

// One leader per Docker host among its agents (two `agent up` projects, or an old container not yet
// gone during an upgrade): a session-level advisory lock keyed by the host's name, held on a
// connection of its own for as long as the agent leads. A follower asks again on every tick of the
// leadership loop; the server releases the lock when the leader's session ends (kill -9, a crash, a
// network cut), so the next ask of another agent wins.
//
// The leader proves ONLY its leader lock (pg_locks for that backend, space and key), never the other
// locks of the process (a tenant's lost lock is that tenant's job's failure, not the lead's). When the
// database cannot answer, it keeps leading: the lock is its own until its connection is known gone.
// Each term of leadership has an AbortController: the jobs of a term run with its signal, so a lost
// term aborts them. The lock is never unlocked while a job of the term is in flight (busy > 0): a
// lost lock needs no unlock, and a stop waits for the jobs (runAgent).
//
// The claim and finish of a run are fenced by the leader's session (schedules/store.ts): a leader
// whose session is gone cannot claim or finish a job, even before it notices.

export class Leadership implements TermOfLeadership {
  private release: (() => Promise<void>) | undefined;
  private since: string | undefined;
  private term: AbortController | undefined;
  private busy = 0;
  /** Why this agent may not lead (its host's name is recorded with another engine), or undefined. */
  refusal: string | undefined;

  constructor(private readonly db: AdminDb, readonly hostId: string) {}

  get isLeader(): boolean {
    return this.release !== undefined;
  }

  get leaderSince(): string | null {
    return this.since ?? null;
  }

  /** The leader lock's session (backend pid, start): recorded on the runs it claims, and their fence. */
  get session(): LeaderSession | undefined {
    return this.release ? this.db.lockSession(lockSpaces.agentLeader, this.hostId) : undefined;
  }

  /** The current term's signal: aborts when the lead is lost. Undefined when not leading. */
  get termSignal(): AbortSignal | undefined {
    return this.term?.signal;
  }

  /** Runs a job of the current term: the lock is not released while it runs. */
  async during<T>(work: () => Promise<T>): Promise<T> {
    this.busy += 1;
    try {
      return await work();
    } finally {
      this.busy -= 1;
    }
  }

  get inFlight(): number {
    return this.busy;
  }

  /**
   * Takes the lead if it is free, or proves it is still ours. Returns what changed: 'gained', 'lost',
   * or undefined (the scheduler settles what a previous leader left before it claims anything).
   */
  async check(now: () => number): Promise<'gained' | 'lost' | undefined> {
    if (this.release) {
      const answer = await this.db.proveLock(lockSpaces.agentLeader, this.hostId);
      if (answer !== 'lost') return undefined;
      // A lost lock is not unlocked (it is not ours): release only forgets it and drops its connection,
      // so the next ask may take it anew.
      const release = this.endTerm('the leader lock is lost (its admin database session is gone)');
      // Dropping a connection whose session is already gone can only fail the same way; the term is over either way.
      await release?.().catch(ignoreFailure('the session is gone or going: the server releases its locks with it'));
      return 'lost';
    }
    if (this.refusal) return undefined;
    this.release = await this.db.tryLock(lockSpaces.agentLeader, this.hostId);
    if (!this.release) return undefined;
    this.since = new Date(now()).toISOString();
    this.term = new AbortController();
    return 'gained';
  }

  /**
   * Ends the term: its jobs are aborted. The lock is released (unlocked if still ours) only when no
   * job of the term is in flight; else it stays with its connection until the process ends (a stop
   * past its grace), or is already gone (lost).
   */
  private endTerm(why: string): (() => Promise<void>) | undefined {
    const release = this.release;
    this.term?.abort(new Error(why));
    this.release = undefined;
    this.since = undefined;
    this.term = undefined;
    return release;
  }

  /** At stop: ends the term, and unlocks only when no job is in flight. */
  async stepDown(): Promise<void> {
    const busy = this.busy > 0;
    const release = this.endTerm('the agent is stopping');
    // Stopping: a failed unlock ends with the connection (the server releases a session's locks).
    if (!busy) await release?.().catch(ignoreFailure('the session is gone or going: the server releases its locks with it'));
  }
}

/** The leadership loop: a follower asks for the lead, the leader proves it still holds it. */
export function leadershipLoop(leadership: Leadership, intervalMs = 5_000): AgentLoop {
  return {
    name: 'leadership',
    intervalMs,
    async tick(agent) {
      const change = await leadership.check(agent.ctx.clock.now);
      if (change === 'gained') {
        agent.log(`leader of host ${leadership.hostId}`);
      } else if (change === 'lost') {
        agent.log(`no longer the leader of host ${leadership.hostId} (its admin database session is gone); its jobs in flight are aborted; asking again`);
      }
    },
  };
}
