import { readdir, readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { lockSpaces } from '../admin-db/database.js';
import { TenantRegistry, type TenantRecord } from '../tenants/registry.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { publicPortNames } from '../templates/private-ports.js';
import { tenantIdSchema } from '../tenants/input.js';
import { tenantPaths } from '../tenants/files.js';
import { servicesOf } from '../tenants/day2-target.js';
import { projectsByLabel, type ProjectObjects } from '../engine/docker.js';
import { describeServices } from '../templates/render-compose.js';
import { holdTenant } from '../tenants/hold.js';
import { OperationJournal } from '../operations/journal.js';
import { repairJournaled } from './repair.js';
import { TenantctlError, messageOf } from '../common/errors.js';
import { failureMeans, ignoreFailure } from '../common/ignore-failure.js';
import { findDiscrepancies, type Finding, type Snapshot } from './findings.js';
import { askRecordedHosts, learnIdentity } from './ask-hosts.js';
import { namesHere } from './host-identity.js';
import * as z from 'zod/mini';

export interface DoctorResult {
  host: string;
  checked: { tenants: number; stacks: number; allocations: number; folders: number };
  findings: Array<Finding & { fixed?: boolean; fixError?: string }>;
  /** True when nothing is left to fix. */
  healthy: boolean;
}

/**
 * Compares the registry, the allocations, customers/ and what Docker has (by label) on this host,
 * and lists every discrepancy with the command that fixes it. With `fix`, repairs what is safe:
 * containers and networks of stacks nobody owns, stray allocations, folders of tenants whose data
 * is gone, and interrupted provisions (recorded as failed). It never removes a volume.
 */
export async function doctor(ctx: Context, { fix = false }: { fix?: boolean } = {}): Promise<DoctorResult> {
  const snapshot = await takeSnapshot(ctx);
  const findings: DoctorResult['findings'] = findDiscrepancies(snapshot);
  if (fix) {
    for (const finding of findings.filter((f) => f.fixable)) {
      try {
        await repair(ctx, snapshot, finding);
        finding.fixed = true;
      } catch (error) {
        finding.fixed = false;
        finding.fixError = messageOf(error);
      }
    }
  }
  return {
    host: snapshot.host,
    checked: { tenants: snapshot.rows.length, stacks: snapshot.stacks.length, allocations: snapshot.allocations.length, folders: snapshot.folders.length },
    findings,
    healthy: findings.every((f) => f.fixed === true),
  };
}

async function takeSnapshot(ctx: Context): Promise<Snapshot> {
  const host = ctx.dockerHost;
  // A swarm manager's engine holds its own node's containers only: every node is asked.
  const stacks = host.kind === 'swarm'
    ? import('../swarm/swarm-stack.js').then(async ({ swarmNodeEngines }) => mergeProjects(await Promise.all((await swarmNodeEngines(host, ctx.signal)).map((node) => projectsByLabel(node, 'tenantctl.managed=true', ctx.signal)))))
    : projectsByLabel(host, 'tenantctl.managed=true', ctx.signal);
  stacks.catch(ignoreFailure('awaited (and reported) below; this keeps an early rejection from going unhandled'));
  // On a swarm, what the services publish on the routing mesh, which no container shows.
  const swarmPorts = host.kind === 'swarm' ? import('./swarm-ports.js').then(({ swarmServicePorts }) => swarmServicePorts(host, ctx.signal)) : Promise.resolve(undefined);
  swarmPorts.catch(ignoreFailure('awaited (and reported) below; this keeps an early rejection from going unhandled'));
  const db = await ctx.adminDb();
  const identity = learnIdentity(ctx, db);
  identity.catch(ignoreFailure('awaited (and reported) below; this keeps an early rejection from going unhandled'));
  const registry = new TenantRegistry(db);
  const records = await registry.list();
  const rows = await Promise.all(records.map(async (r) => {
    const row = { id: r.id, status: r.status, keptData: r.keptData, composeProject: r.composeProject, host: r.host, updatedAt: r.updatedAt, locked: undefined as boolean | undefined, expectedServices: undefined as string[] | undefined, privatePorts: undefined as Record<string, number> | undefined };
    // A remote host or a swarm publishes a tenant's front-door port only: the others are checked.
    if (host.keepsPortsPrivate && (r.status === 'active' || r.status === 'stopped')) row.privatePorts = await privatePortsOf(ctx, registry, r).catch(ignoreFailure('a template that cannot be loaded now: its private ports are not checked'));
    // A tenant's whole stack is what its own rendered file holds (its template, its profiles), not crm's.
    const rendered = await readFile(tenantPaths(ctx.config.customersDir, r.id).composeFile, 'utf8').catch(ignoreFailure('no rendered file: no services are expected from it'));
    if (rendered !== undefined) row.expectedServices = servicesOf(rendered, r.profiles);
    if (r.status === 'provisioning' || r.status === 'deprovisioning') {
      // Free means nobody holds it: the run that set this status is gone.
      const release = await db.tryLock(lockSpaces.tenant, r.id);
      row.locked = release === undefined;
      await release?.();
    }
    return row;
  }));
  const { rows: allocations } = await db.pool.query('SELECT customer_id AS "customerId", kind, value, host FROM admin_allocations').catch(db.unreachable);
  // Unfinished operations, and whether a tenantctl is running them now (it holds the tenant's lock) or was killed.
  const operations = await Promise.all((await new OperationJournal(db).running()).map(async (op) => {
    const release = await db.tryLock(lockSpaces.tenant, op.tenant);
    await release?.();
    const targetHost = typeof op.data.targetHost === 'string' ? op.data.targetHost : undefined;
    return { tenant: op.tenant, verb: op.verb, step: op.step, startedAt: op.startedAt, actor: op.actor, host: op.host, targetHost, inFlight: release === undefined };
  }));
  const folders = await readdir(ctx.config.customersDir, { withFileTypes: true }).catch((error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new TenantctlError('usage', `cannot read ${ctx.config.customersDir}: ${messageOf(error)}`);
  });
  const template = await readFile(ctx.config.templatePath, 'utf8').catch(failureMeans('', 'an unreadable template file expects no services'));
  // Tenants' stacks only: the local admin database carries tenantctl's label too, and a project
  // whose name holds no valid tenant id (admin is a reserved one) is not a tenant's.
  const tenantStacks = (await stacks).filter((stack) => stack.project !== ctx.config.adminDatabase.localProject
    && stack.project.startsWith(`${ctx.config.composeProjectPrefix}-`)
    && z.safeParse(tenantIdSchema, stack.project.slice(ctx.config.composeProjectPrefix.length + 1)).success);
  const facts = { host: host.id, ...(await identity) };
  // A stack here whose tenant's row names another host is removable only once that host says the
  // tenant runs there: each such host is asked (findings.ts judges what it said).
  const projects = new Set(tenantStacks.map((stack) => stack.project));
  const withStackHere = rows.filter((r) => projects.has(r.composeProject)).map((r) => ({ id: r.id, host: r.host, project: r.composeProject }));
  return {
    ...facts,
    swarm: host.kind === 'swarm',
    swarmPorts: await swarmPorts,
    elsewhere: await askRecordedHosts(ctx, db, facts, withStackHere),
    projectPrefix: ctx.config.composeProjectPrefix,
    rows,
    allocations,
    operations,
    stacks: tenantStacks,
    folders: folders.filter((d) => d.isDirectory() && z.safeParse(tenantIdSchema, d.name).success).map((d) => d.name),
    expectedServices: template ? describeServices(template).map((s) => s.name) : [],
    agents: await agentBeats(db, ctx.config.agent.silentAfterSeconds),
  };
}

/** Every host's newest agent heartbeat; unknown (undefined) when the table cannot be read (a role without the right). */
async function agentBeats(db: Awaited<ReturnType<Context['adminDb']>>, silentAfterSeconds: number): Promise<Snapshot['agents']> {
  const beats = await db.pool.query('SELECT host, beat_at, extract(epoch FROM now() - beat_at)::float8 AS age FROM admin_agent_heartbeats ORDER BY host')
    .then((r) => r.rows.map((b) => ({ host: b.host as string, beatAt: new Date(b.beat_at).toISOString(), ageSeconds: Math.max(0, Math.round(Number(b.age))) })), () => undefined);
  return beats && { silentAfterSeconds, beats };
}

/** A tenant's allocated host ports but the front door's, by name (its template says which that is). */
async function privatePortsOf(ctx: Context, registry: TenantRegistry, record: TenantRecord): Promise<Record<string, number>> {
  const template = await loadTenantTemplate(ctx, record);
  const keep = publicPortNames(template.block);
  return Object.fromEntries(Object.entries(await registry.portsOf(record)).filter(([name]) => !keep.has(name)));
}

/**
 * One repair, under the tenant's lock (a tenant another tenantctl is changing now is left alone):
 * an interrupted operation is settled from its journal (holdTenant); anything else is journaled as
 * a doctor-fix operation (repair.ts) with exactly what it removes or releases, by id, decided from
 * this snapshot, then done.
 */
async function repair(ctx: Context, snapshot: Snapshot, finding: Finding): Promise<void> {
  const db = await ctx.adminDb();
  if (finding.kind === 'interrupted-operation') {
    const release = await holdTenant(ctx, finding.tenant);
    await release();
    // A settlement deferred (an owner conversion whose database is not running) fixed nothing: said so.
    const still = await new OperationJournal(db).pending(finding.tenant);
    if (still) throw new TenantctlError('conflict', `the ${still.verb} of ${finding.tenant} waits for what it needs (its database running: tenantctl start ${finding.tenant}); tenantctl operations abandon ${finding.tenant} --reason <text> closes it by hand`);
    return;
  }
  const release = await db.tryLock(lockSpaces.tenant, finding.tenant);
  if (!release) throw new TenantctlError('conflict', `${finding.tenant} is being changed by another tenantctl process now`);
  try {
    // What was judged must still be so: an operation begun, or the row changed, since the snapshot
    // (a provision that just finished would have its folder taken for stale) is judged again next time.
    if (await new OperationJournal(db).pending(finding.tenant)) throw new TenantctlError('conflict', `${finding.tenant} has an unfinished operation now; run tenantctl doctor again`);
    const row = snapshot.rows.find((r) => r.id === finding.tenant);
    const now = await new TenantRegistry(db).get(finding.tenant);
    if ((now?.status ?? null) !== (row?.status ?? null) || (now?.updatedAt ?? null) !== (row?.updatedAt ?? null)) {
      throw new TenantctlError('conflict', `${finding.tenant} changed since it was checked (now ${now?.status ?? 'not on record'}); run tenantctl doctor again`);
    }
    const project = row?.composeProject ?? `${snapshot.projectPrefix}-${finding.tenant}`;
    const stack = snapshot.stacks.find((s) => s.project === project);
    const containersAndNetworks = { containers: stack?.containers.map((c) => c.id) ?? [], networks: stack?.networks ?? [] };
    const none = { containers: [], networks: [] };
    switch (finding.kind) {
      case 'orphan-stack':
        return await repairJournaled(ctx, finding.tenant, { kind: finding.kind, ...containersAndNetworks });
      case 'stray-allocation':
        // Held under any of this engine's names (findings.ts judged them all here).
        return await repairJournaled(ctx, finding.tenant, { kind: finding.kind, ...none, releaseOn: [...namesHere(snapshot)] });
      case 'stale-folder':
        return await repairJournaled(ctx, finding.tenant, { kind: finding.kind, ...none, folder: finding.tenant });
      case 'stuck':
        return await repairJournaled(ctx, finding.tenant, { kind: finding.kind, ...containersAndNetworks, markFailed: true });
      default:
        throw new TenantctlError('internal', `doctor cannot fix ${finding.kind}`);
    }
  } finally {
    await release();
  }
}

/** One project's objects from several engines (a swarm's nodes), as one. */
function mergeProjects(perEngine: ProjectObjects[][]): ProjectObjects[] {
  const merged = new Map<string, ProjectObjects>();
  for (const stack of perEngine.flat()) {
    const seen = merged.get(stack.project);
    if (!seen) merged.set(stack.project, { ...stack, containers: [...stack.containers], networks: [...stack.networks], volumes: [...stack.volumes] });
    else {
      seen.containers.push(...stack.containers);
      seen.networks.push(...stack.networks);
      seen.volumes.push(...stack.volumes);
    }
  }
  return [...merged.values()];
}
