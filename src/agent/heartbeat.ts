import type { AgentContext } from './context.js';
import type { AgentLoop } from './loop.js';
import type { AdminDb } from '../admin-db/database.js';
import { recordEvent } from '../watch/store.js';
import { raiseAlertIn } from '../alerts/raise.js';

// Every agent records a heartbeat for its host (admin_agent_heartbeats, one row per host: the newest
// beat of any of its agents), and every agent looks at the other hosts' rows: a host whose newest
// beat is older than agent.silentAfterSeconds has no live agent (killed, its machine down, its
// admin database login refused), and nothing there watches, backs up or alerts. That is
// host.agent-silent, raised once by whichever live agent saw it first (compare-and-set on
// silent_since); the silent host's next beat clears it and raises host.agent-back. A host's own
// engine not answering is the watch's host.unreachable (watch/pass.ts), not this.

export interface HeartbeatRow {
  host: string;
  instance: string;
  beatAt: string;
  ageSeconds: number;
  leader: boolean;
  silentSince: string | null;
}

/** Every host's last beat, as `agent status` and doctor show it (the caller's role may read the table). */
export async function agentHeartbeats(db: AdminDb): Promise<HeartbeatRow[]> {
  const { rows } = await db.pool.query(
    `SELECT host, instance, beat_at, extract(epoch FROM now() - beat_at)::float8 AS age, leader, silent_since
       FROM admin_agent_heartbeats ORDER BY host`,
  ).catch(db.unreachable);
  return rows.map((r) => ({
    host: r.host, instance: r.instance, beatAt: new Date(r.beat_at).toISOString(), ageSeconds: Math.max(0, Math.round(Number(r.age))), leader: r.leader,
    silentSince: r.silent_since ? new Date(r.silent_since).toISOString() : null,
  }));
}

/** This agent's beat; when its host had been reported silent, host.agent-back with it (once: the row is locked). */
export async function beat(agent: AgentContext, instance: string, startedAt: string): Promise<'beat' | 'back'> {
  const now = new Date(agent.ctx.clock.now());
  return agent.db.withTransaction(async (client) => {
    const { rows } = await client.query('SELECT silent_since, beat_at FROM admin_agent_heartbeats WHERE host = $1 FOR UPDATE', [agent.hostId]);
    await client.query(
      `INSERT INTO admin_agent_heartbeats (host, instance, beat_at, started_at, leader, silent_since) VALUES ($1, $2, now(), $3, $4, NULL)
       ON CONFLICT (host) DO UPDATE SET instance = $2, beat_at = now(), started_at = $3, leader = $4, silent_since = NULL`,
      [agent.hostId, instance, startedAt, agent.isLeader()],
    );
    const silentSince = rows[0]?.silent_since as Date | null | undefined;
    if (!silentSince) return 'beat';
    const detail = { instance, silentSince: new Date(silentSince).toISOString(), lastBeatBefore: new Date(rows[0].beat_at).toISOString() };
    await recordEvent(client, { tenant: null, host: agent.hostId, kind: 'host.agent-back', detail });
    await raiseAlertIn(client, { kind: 'host.agent-back', host: agent.hostId, summary: `the agent of Docker host ${agent.hostId} runs again (${instance})`, detail }, now);
    return 'back';
  });
}

/** Hosts (other than this one) whose newest beat is older than `silentAfterSeconds`, marked and alerted once; their names. */
export async function reportSilentHosts(agent: AgentContext, silentAfterSeconds: number): Promise<string[]> {
  const now = new Date(agent.ctx.clock.now());
  return agent.db.withTransaction(async (client) => {
    const { rows } = await client.query(
      `UPDATE admin_agent_heartbeats SET silent_since = now()
        WHERE host <> $1 AND silent_since IS NULL AND beat_at < now() - make_interval(secs => $2)
        RETURNING host, instance, beat_at, extract(epoch FROM now() - beat_at)::float8 AS age`,
      [agent.hostId, silentAfterSeconds],
    );
    for (const r of rows) {
      const detail = { lastBeatAt: new Date(r.beat_at).toISOString(), lastInstance: r.instance, silentSeconds: Math.round(Number(r.age)), silentAfterSeconds, reportedBy: agent.hostId };
      await recordEvent(client, { tenant: null, host: r.host, kind: 'host.agent-silent', detail });
      await raiseAlertIn(client, {
        kind: 'host.agent-silent', host: r.host,
        summary: `no agent of Docker host ${r.host} has beaten for ${Math.round(Number(r.age))} s (last ${r.instance} at ${detail.lastBeatAt}): nothing watches, backs up or alerts there`,
        detail,
      }, now);
    }
    return rows.map((r) => r.host as string);
  });
}

/** On every agent, leader or not: its beat, then the other hosts' staleness. */
export function heartbeatLoop(instance: string, startedAt: string, everyMs: number): AgentLoop {
  return {
    name: 'heartbeat',
    intervalMs: everyMs,
    async tick(agent) {
      if ((await beat(agent, instance, startedAt)) === 'back') agent.log(`host ${agent.hostId} was reported silent; its agent beats again`);
      const silent = await reportSilentHosts(agent, agent.ctx.config.agent.silentAfterSeconds);
      if (silent.length > 0) agent.log(`heartbeat: no agent beats on ${silent.join(', ')} (host.agent-silent raised)`);
    },
  };
}
