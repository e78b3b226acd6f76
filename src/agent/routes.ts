import type { AgentRuntimeStatus } from './runtime-status.js';
import { sendJson, type RouteTable } from './server.js';

/**
 * Every route of the agent's loopback server, in one place (as loops.ts is for its loops). Issue
 * 22's metrics mount `/metrics` here (src/metrics: the Prometheus exposition, `agent status`
 * names its URL already); until then it is a 404 like any unknown path. Later: the gateway's wake
 * requests and the HTTP API.
 */
export function agentRoutes(status: () => AgentRuntimeStatus): RouteTable {
  return new Map([
    ['/healthz', (_request, response) => sendJson(response, 200, { ok: true })],
    ['/status', (_request, response) => sendJson(response, 200, status())],
  ]);
}
