import type { LoopState } from './loop.js';

/** What a running agent answers on /status, and `agent status` shows. */
export interface AgentRuntimeStatus {
  hostId: string;
  pid: number;
  startedAt: string;
  leader: boolean;
  leaderSince: string | null;
  /** Why this agent refuses to lead (its host's name is recorded with another engine), or null. */
  notLeadingBecause: string | null;
  loops: LoopState[];
}
