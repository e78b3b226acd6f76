import { rm } from 'node:fs/promises';
import http from 'node:http';
import type { Context } from '../context.js';
import { TenantctlError } from '../common/errors.js';
import { ensurePrivateDir } from '../common/private-files.js';
import { done, notYet, retryUntilDeadline, type Attempt } from '../common/retry.js';
import { agentUpTimeoutMs, probeConnectTimeoutMs } from '../common/timeouts.js';
import { runForeground } from '../common/interactive.js';
import { loginRoleUrl } from '../secrets/login-role.js';
import { composeOn } from '../stack/compose.js';
import { projectContainers } from '../stack/project-state.js';
import { ScheduleStore } from '../schedules/store.js';
import { desiredSchedules } from '../schedules/desired.js';
import { acmeMountsForAgent, isAcmeDoor } from '../frontdoor/acme/agent-access.js';
import { ensureAgentImage, pruneOldAgentImages } from './image.js';
import { agentContainer, agentLayout, agentRole, metricsUrlOf } from './layout.js';
import { agentMasterKeyFile, engineSocket, writeAgentCompose, writeAgentConfig } from './deploy.js';
import type { AgentRuntimeStatus } from './runtime-status.js';
import { agentHeartbeats, type HeartbeatRow } from './heartbeat.js';
import { recordSuspensionPolicy } from '../suspension/policy-setting.js';

// `tenantctl agent up|down|status|logs`: the agent of this Docker host as its own compose project
// (agent.project) beside the front door's.

export interface AgentStatus {
  project: string;
  host: string;
  /** running: its container runs and it answers; unresponsive: it runs but does not answer /status; stopped; absent. */
  state: 'running' | 'unresponsive' | 'stopped' | 'absent';
  container: string;
  image: string | null;
  /** Whether this agent leads its host (runs the jobs); null when it does not answer. */
  leader: boolean | null;
  /** Where Prometheus scrapes the agent (loopback). */
  metricsUrl: string;
  /** The agent's HTTP API: none yet. */
  apiUrl: null;
  startedAt: string | null;
  loops: AgentRuntimeStatus['loops'];
  /**
   * Every host's newest agent heartbeat (admin_agent_heartbeats), `silent` when older than
   * agent.silentAfterSeconds; null when the admin database could not be asked.
   */
  heartbeats: Array<HeartbeatRow & { silent: boolean }> | null;
}

export interface AgentUpResult extends AgentStatus {
  /** Whether the container was (re)created: a new bundle, configuration or image. */
  recreated: boolean;
  schedules: { added: number; changed: number; removed: number };
  /** The host's suspension policy as recorded for the database's guard (migration 029): days, or null (off). */
  suspensionPolicy: { deprovisionAfterDays: number | null; changed: boolean };
}

export async function agentUp(ctx: Context): Promise<AgentUpResult> {
  const config = ctx.config;
  const layout = agentLayout(config);
  const socket = engineSocket(ctx);
  // As the database's owner: the schema (017 makes the agent's role), the role's password, the schedules.
  const db = await ctx.adminDb();
  ctx.reporter.step('setting up the agent\'s admin database login and schedules');
  // No temporary tables for any role but the owner (migration 029): revoked again here, because a
  // database-level right is not in the admin backup's dump (pg_dump), so a recovered admin
  // database may have PUBLIC's default back. Idempotent.
  await db.pool.query("DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$").catch(db.unreachable);
  const databaseUrl = await loginRoleUrl(db, config.stateDir, agentRole);
  const acmeDoor = await isAcmeDoor(config);
  const schedules = await new ScheduleStore(db).sync(ctx.homeHost.id, desiredSchedules(config, { acmeDoor }));
  // The policy's days where the agent's role cannot write them: the database refuses any deprovisioning
  // the recorded policy does not allow (src/suspension/policy-setting.ts), whatever the agent's config says.
  const days = config.suspension.deprovisionAfterDays;
  const policy = await recordSuspensionPolicy(db, ctx.homeHost.id, days);
  ctx.reporter.step(`building the agent's image on ${config.agent.baseImage}`);
  const image = await ensureAgentImage(ctx.homeHost, config.agent.baseImage, ctx.signal);
  // Created here (as the operator) so that Docker does not create them as root for the mounts.
  await ensurePrivateDir(config.backupsDir);
  await ensurePrivateDir(config.customersDir);
  const configContent = await writeAgentConfig(config, layout, databaseUrl);
  const masterKey = await agentMasterKeyFile(ctx, layout);
  const extraMounts = acmeDoor ? await acmeMountsForAgent(config, layout.stateDir) : [];
  const changed = await writeAgentCompose(ctx, layout, { image, socket, masterKey, configContent, extraMounts });
  const before = await projectContainers(ctx.homeHost, config.agent.project, ctx.signal);
  // Every step before is idempotent and changes no agent that runs: a killed `agent up` is run again.
  await ctx.pause('agent-up:configured');
  ctx.reporter.step(`starting the agent (compose project ${config.agent.project})`);
  const compose = await composeOn(ctx.homeHost);
  await compose.up({ project: config.agent.project, file: layout.composeFile }, { timeoutMs: agentUpTimeoutMs, signal: ctx.signal });
  await waitForAgent(ctx);
  await pruneOldAgentImages(ctx.homeHost, image);
  const status = await agentStatus(ctx);
  return {
    ...status, recreated: changed || before.length === 0 || before[0]!.image !== image, schedules,
    suspensionPolicy: { deprovisionAfterDays: days, changed: policy.before !== policy.now },
  };
}

export async function agentDown(ctx: Context): Promise<{ project: string; removed: string[]; warnings: string[] }> {
  const layout = agentLayout(ctx.config);
  const before = await projectContainers(ctx.homeHost, ctx.config.agent.project, ctx.signal);
  const compose = await composeOn(ctx.homeHost);
  // Its containers and its default network (it has none: host networking).
  await compose.down({ project: ctx.config.agent.project, file: layout.composeFile }, { timeoutMs: agentUpTimeoutMs, removeVolumes: false, signal: ctx.signal });
  // Its secrets do not outlive it: the private copy of the master key and its configuration (with its
  // database password) go; `agent up` writes them again. The compose file stays (nothing secret).
  await rm(layout.masterKeyCopy, { force: true });
  await rm(layout.configFile, { force: true });
  // An agent taken down on purpose is not a silent one: its host's heartbeat goes with it (another
  // agent of the host, if one runs, writes it again on its next beat).
  // The agent is gone already: an admin database that cannot be reached is a warning (its host is
  // then reported silent), any other failure (a refused statement, a bug) is still an error.
  const warnings: string[] = [];
  await forgetHeartbeat(ctx).catch((error: unknown) => {
    if (!(error instanceof TenantctlError && error.kind === 'adminDb')) throw error;
    warnings.push(`the agent is down, but its host's heartbeat was not removed (${error.message}): its host is reported silent until an agent beats again`);
  });
  return { project: ctx.config.agent.project, removed: before.map((c) => c.name), warnings };
}

async function forgetHeartbeat(ctx: Context): Promise<void> {
  const db = await ctx.adminDb();
  await db.pool.query('DELETE FROM admin_agent_heartbeats WHERE host = $1', [ctx.homeHost.id]).catch(db.unreachable);
}

export async function agentStatus(ctx: Context): Promise<AgentStatus> {
  const config = ctx.config;
  const containers = await projectContainers(ctx.homeHost, config.agent.project, ctx.signal);
  const container = containers[0];
  // Asked beside the container: an agent that is absent here may still beat on another host.
  const heartbeats = await ctx.adminDb()
    .then((db) => agentHeartbeats(db))
    .then((rows) => rows.map((r) => ({ ...r, silent: r.ageSeconds > config.agent.silentAfterSeconds })), () => null);
  const base = { project: config.agent.project, host: ctx.homeHost.id, container: agentContainer(config), metricsUrl: metricsUrlOf(config), apiUrl: null, heartbeats } as const;
  if (!container) return { ...base, state: 'absent', image: null, leader: null, startedAt: null, loops: [] };
  if (container.status !== 'running') return { ...base, state: 'stopped', image: container.image, leader: null, startedAt: null, loops: [] };
  const answer = await getStatus(config.agent.port, ctx.signal);
  if (!answer.done) return { ...base, state: 'unresponsive', image: container.image, leader: null, startedAt: null, loops: [] };
  return { ...base, state: 'running', image: container.image, leader: answer.value.leader, startedAt: answer.value.startedAt, loops: answer.value.loops };
}

/** `agent logs`: docker logs of the agent's container, streamed to stdout. */
export async function agentLogs(ctx: Context, input: { follow?: boolean; tail?: string }): Promise<{ ended: 'finished' | 'interrupted' }> {
  if (input.tail !== undefined && !/^(all|\d{1,7})$/.test(input.tail)) throw new TenantctlError('usage', `--tail ${JSON.stringify(input.tail)}: expected a number of lines or "all"`);
  const containers = await projectContainers(ctx.homeHost, ctx.config.agent.project, ctx.signal);
  if (containers.length === 0) throw new TenantctlError('notFound', `no agent on this host (compose project ${ctx.config.agent.project}): tenantctl agent up starts it`);
  const args = ['docker', 'logs', ...(input.follow ? ['--follow'] : []), ...(input.tail ? ['--tail', input.tail] : []), containers[0]!.name];
  const run = await runForeground(args, { env: ctx.homeHost.env, timeoutMs: input.follow ? undefined : agentUpTimeoutMs, signal: ctx.signal, stdin: 'ignore' });
  if (run.forwarded.length > 0 || run.cancelled) return { ended: 'interrupted' };
  if (run.timedOut) throw new TenantctlError('docker', `docker logs ${containers[0]!.name} did not finish within ${agentUpTimeoutMs / 1000} s`);
  if (run.exitCode !== 0) throw new TenantctlError('docker', `docker logs ${containers[0]!.name} failed (exit ${run.exitCode}; its message is above)`);
  return { ended: 'finished' };
}

function getStatus(port: number, signal?: AbortSignal): Promise<Attempt<AgentRuntimeStatus>> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/status', agent: false, timeout: probeConnectTimeoutMs, signal }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => {
        if (response.statusCode !== 200) return resolve(notYet(`answered ${response.statusCode}`));
        try {
          resolve(done(JSON.parse(body) as AgentRuntimeStatus));
        } catch {
          resolve(notYet('answered something that is not JSON'));
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error('no answer')));
    request.on('error', (error: NodeJS.ErrnoException) => resolve(notYet(error.code ?? error.message)));
  });
}

/** Until the agent answers /status (it opened the admin database with its role and listens). */
async function waitForAgent(ctx: Context): Promise<void> {
  await retryUntilDeadline(async () => {
    const answer = await getStatus(ctx.config.agent.port, ctx.signal);
    if (answer.done) return answer;
    // An agent that exited (its admin database login refused, its port taken) says why in its log: fail now, with it.
    const [container] = await projectContainers(ctx.homeHost, ctx.config.agent.project, ctx.signal);
    if (container && container.status !== 'running') {
      const log = await ctx.homeHost.run(['docker', 'logs', '--tail', '3', container.name], { timeoutMs: agentUpTimeoutMs }).then((r) => r.stderrTail.trim().split('\n').slice(-3).join(' | '), () => 'unavailable');
      throw new TenantctlError('docker', `the agent's container ${container.name} stopped (${container.status}, exit ${container.exitCode}, ${container.restartCount} restarts); its log: ${log}`);
    }
    return answer;
  }, {
    what: 'waiting for the agent',
    deadlineMs: agentUpTimeoutMs,
    signal: ctx.signal,
    initialDelayMs: 200,
    maxDelayMs: 1_000,
    onDeadline: (why) => new TenantctlError('docker', `the agent did not answer on 127.0.0.1:${ctx.config.agent.port} (${why}); see tenantctl agent logs`),
  });
}
