import type { AgentRuntimeStatus } from './runtime-status.js';
import { sendJson, type RouteHandler, type RouteTable } from './server.js';

/**
 * Every route of the agent's loopback server, in one place (as loops.ts is for its loops):
 * `/metrics` is the Prometheus exposition (src/metrics, the URL `agent status` names). Later: the
 * gateway's wake requests and the HTTP API.
 */
export function agentRoutes(status: () => AgentRuntimeStatus, metrics: RouteHandler): RouteTable {
  return new Map<string, RouteHandler>([
    ['/healthz', (_request, response) => sendJson(response, 200, { ok: true })],
    ['/status', (_request, response) => sendJson(response, 200, status())],
    ['/metrics', metrics],
  ]);
}
