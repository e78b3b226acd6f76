import type { AgentConfig } from '../config/schema.js';
import type { AgentLoop } from './loop.js';
import { leadershipLoop, type Leadership } from './leader.js';
import { schedulerLoop } from './scheduler.js';

/**
 * Every loop the agent runs, in one place. Issue 22's watching (src/watch: probes, transitions),
 * alerts (src/alerts: webhook deliveries) and metrics (src/metrics) add their loops here; each
 * decides for itself whether only the leader acts (agent.isLeader()).
 */
export function agentLoops(config: AgentConfig, leadership: Leadership): AgentLoop[] {
  return [
    leadershipLoop(leadership),
    schedulerLoop(Math.round(config.pollSeconds * 1000)),
  ];
}
