import { once } from 'node:events';
import { messageOf } from '../common/errors.js';
import type { Context } from '../context.js';
import type { AgentContext } from './context.js';
import { runLoop } from './loop.js';
import type { AgentRuntimeStatus } from './runtime-status.js';
import { agentLoops } from './loops.js';
import { Leadership } from './leader.js';
import { leadershipRefusal } from './host-identity.js';
import { startServer } from './server.js';
import { agentRoutes } from './routes.js';
import { metricsRoute } from '../metrics/route.js';
import { RequestQueue, type RequestHandler } from './requests.js';

/**
 * The kinds of on-demand request the agent runs (requests.ts), by name: none yet. The gateway's wake
 * of a sleeping tenant mounts here, with the loopback route that submits it (routes.ts).
 */
const requestHandlers = new Map<string, RequestHandler>();

// `tenantctl agent run` (hidden; what the agent's container runs): opens the admin database with the
// agent's own role (its URL is in the agent's 0600 configuration, written by `agent up`), starts the
// loops and the loopback server, and runs until SIGTERM (docker stop), when each loop's tick in
// flight is given stopGraceMs to end (a backup in flight is cancelled and cleans up, as on Ctrl-C).

/** Less than the compose file's stop_grace_period (30 s), so the agent ends before Docker kills it. */
const stopGraceMs = 25_000;

export async function runAgent(ctx: Context, log: (line: string) => void): Promise<{ stoppedAt: string }> {
  const db = await ctx.adminDb();
  const hostId = ctx.dockerHost.id;
  const leadership = new Leadership(db, hostId);
  // Checked before the first ask for the lead: an agent on the wrong engine never leads.
  leadership.refusal = await leadershipRefusal(ctx, db, hostId);
  if (leadership.refusal) log(`refusing to lead: ${leadership.refusal}`);
  const agent: AgentContext = { ctx, db, hostId, isLeader: () => leadership.isLeader, leadership, log };
  const startedAt = new Date(ctx.clock.now()).toISOString();

  const instance = `${ctx.actor} pid ${process.pid}`;
  const requests = new RequestQueue(requestHandlers);
  const running = agentLoops(ctx, leadership, { instance, startedAt }, requests).map((loop) => runLoop(loop, agent, ctx.signal));
  const status = (): AgentRuntimeStatus => ({
    hostId, pid: process.pid, startedAt, leader: leadership.isLeader, leaderSince: leadership.leaderSince, notLeadingBecause: leadership.refusal ?? null, loops: running.map((r) => ({ ...r.state })),
  });
  const server = await startServer(agentRoutes(status, metricsRoute(ctx, ctx.signal, log)), ctx.config.agent.port, (error) => log(`server: ${messageOf(error)}`));
  log(`agent of host ${hostId} listening on http://127.0.0.1:${ctx.config.agent.port} (pid ${process.pid})`);

  if (!ctx.signal.aborted) await once(ctx.signal, 'abort');
  log('stopping: waiting for the loops\' ticks in flight');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(running.map((r) => r.stopped)),
    new Promise((resolve) => { timer = setTimeout(resolve, stopGraceMs); }),
  ]);
  clearTimeout(timer);
  await leadership.stepDown();
  await new Promise((resolve) => server.close(resolve));
  log('stopped');
  return { stoppedAt: new Date(ctx.clock.now()).toISOString() };
}
