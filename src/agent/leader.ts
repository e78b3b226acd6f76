import { lockSpaces, type AdminDb } from '../admin-db/database.js';
import type { AgentLoop } from './loop.js';

// One leader per Docker host among its agents (two `agent up` projects, or an old container not yet
// gone during an upgrade): a session-level advisory lock keyed by the host's name, held on a
// connection of its own for as long as the agent leads. A follower asks again on every tick of the
// leadership loop; the server releases the lock when the leader's session ends (kill -9, a crash, a
// network cut), so the next ask of another agent wins. Every admin-database transaction of the
// agent is fenced by the locks it holds (admin-db requireLocks): a leader whose session is gone
// cannot claim or finish a job, even before it notices.

export class Leadership {
  private release: (() => Promise<void>) | undefined;
  private since: string | undefined;

  constructor(private readonly db: AdminDb, readonly hostId: string) {}

  get isLeader(): boolean {
    return this.release !== undefined;
  }

  get leaderSince(): string | null {
    return this.since ?? null;
  }

  /**
   * Takes the lead if it is free, or proves it is still ours. Returns what changed: 'gained', 'lost',
   * or undefined (the scheduler settles what a previous leader left before it claims anything).
   */
  async check(now: () => number): Promise<'gained' | 'lost' | undefined> {
    if (this.release) {
      const lost = await this.db.locksProven();
      if (!lost) return undefined;
      await this.stepDown();
      return 'lost';
    }
    this.release = await this.db.tryLock(lockSpaces.agentLeader, this.hostId);
    if (!this.release) return undefined;
    this.since = new Date(now()).toISOString();
    return 'gained';
  }

  async stepDown(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    this.since = undefined;
    await release?.().catch(() => {});
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
        agent.log(`no longer the leader of host ${leadership.hostId} (its admin database session is gone); asking again`);
      }
    },
  };
}
