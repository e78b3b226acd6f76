import { access, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.js';
import type { DockerHost } from '../stack/docker-host.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { parseOrUsage, parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { tenantPaths } from '../tenants/files.js';
import { removeStack } from '../stack/removal.js';
import { composeVerb, managedContainers } from '../stack/day2.js';
import type { ComposeTarget } from '../stack/compose-argv.js';
import { composeStopTimeoutMs } from '../common/timeouts.js';
import { lockSpaces, type AdminDb } from '../admin-db/database.js';
import { backupTenant } from '../backups/backup.js';
import { dataServices } from '../backups/containers.js';
import { restore } from '../backups/restore.js';
import { startTenant } from '../tenants/lifecycle.js';
import { crmShape, loadTenantTemplate, requireShape } from '../tenants/tenant-template.js';
import { refuseOnSwarm } from '../stack/swarm-stack.js';
import { HostStore } from './store.js';
import { hostNameSchema } from './commands.js';
import { MoveJournal, type MoveRecord } from './move-journal.js';
import { contextOn, dockerHostFor, dockerHostNamed, requireReachable } from './resolve.js';

// `tenantctl move <id> --to <host>`: the source's services that write stopped (its database and
// Redis keep running), a backup on the source, the journal written, the row detached from the
// source, restore on the target (provision, data, readiness), then the source removed. Until the
// target is ready nothing of the source is removed: any failure puts the row back, starts the
// stopped services again, and the tenant goes on working where it was; the error is the first
// cause. A run killed half-way is finished (target ready) or undone (not ready) by the next `move`.
// One move of a tenant at a time (lockSpaces.move, held for the whole run, resume included).

export interface MoveResult {
  id: string;
  from: string;
  to: string;
  /** moved: now; already-there: nothing to do. */
  outcome: 'moved' | 'already-there';
  backup?: string;
  url: string | null;
  durationMs: number;
}

export async function move(ctx: Context, input: { id: unknown; to: unknown }): Promise<MoveResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(input.id);
  const to = parseOrUsage(hostNameSchema, input.to, '--to host');
  const db = await ctx.adminDb();
  // A second run would find this one's journal row 'running', take it for a crash's, and undo it under it.
  const unlock = await db.tryLock(lockSpaces.move, id);
  if (!unlock) throw new TenantctlError('conflict', `another move of ${id} is running; wait for it to end`);
  try {
    return await moveLocked(ctx, db, id, to, started);
  } finally {
    await unlock();
  }
}

async function moveLocked(ctx: Context, db: AdminDb, id: string, to: string, started: number): Promise<MoveResult> {
  const registry = new TenantRegistry(db);
  const journal = new MoveJournal(db);

  // A move that a crash interrupted comes first: finished when its target is ready, else undone.
  const pending = await journal.running(id);
  if (pending) {
    ctx.reporter.step(`an interrupted move of ${id} to ${pending.targetHost} is ${(await resume(ctx, journal, pending)) ? 'finished' : 'undone'}`);
  }

  const record = await registry.require(id);
  if (record.host === to) return { id, from: to, to, outcome: 'already-there', url: record.appUrl, durationMs: ctx.clock.now() - started };
  if (record.status !== 'active') throw new TenantctlError('conflict', `tenant ${id} is ${record.status}; only an active tenant is moved (tenantctl start ${id})`);
  const source = await dockerHostNamed(ctx, db, record.host);
  if (!source) throw new TenantctlError('conflict', `tenant ${id} is on Docker host ${record.host}, which only its own environment reaches (DOCKER_HOST, TENANTCTL_HOST_ID)`);
  const target = await targetHost(ctx, to);
  // Backup and restore are written for crm's shape, and neither reaches a swarm: refused (exit 2) before anything stops.
  requireShape(await loadTenantTemplate(ctx, record), id, 'be moved (backup and restore are written for crm\'s shape)', crmShape);
  refuseOnSwarm(source, 'move');
  refuseOnSwarm(target, 'move');
  const [sourceEngine, targetEngine] = await Promise.all([requireReachable(ctx, source, `tenant ${id}`), requireReachable(ctx, target)]);
  // By the engine's own ID, not its address: one daemon reached two ways (its socket and tcp, tcp
  // and ssh) would have the removal below take the live tenant's containers and volumes.
  if (source === target || !sourceEngine.engineId || sourceEngine.engineId === targetEngine.engineId) {
    throw usageError(`Docker hosts ${source.id} and ${target.id} are the same engine (docker info ID ${sourceEngine.engineId || 'not given'}); a move needs two engines`);
  }
  // The row names the source, so anything of the tenant's project on the target is what an earlier
  // move left there when the target stopped answering half-way: it goes before it can mix with the new stack.
  // No compose file: removal by the project's label only (a swarm: through its manager).
  await removeStack(target, { project: record.composeProject, file: '' }, { keepData: false });

  const paths = tenantPaths(ctx.config.customersDir, id);
  const sourceDir = path.join(ctx.config.customersDir, `.${id}.move-source`);
  let backup: Awaited<ReturnType<typeof backupTenant>>;
  let started_: MoveRecord;
  try {
    await stopWriters(ctx, source, { project: record.composeProject, file: paths.composeFile, envFile: (await exists(paths.envFile)) ? paths.envFile : undefined }, id);
    ctx.reporter.step(`backing up ${id} on ${source.id}`);
    backup = await backupTenant(contextOn(ctx, source), id);
    await ctx.pause('move:backed-up');
    // The journal before the files: a crash in between finds the journal and the files still in place.
    started_ = await journal.begin({ customerId: id, sourceHost: source.id, targetHost: target.id, backupId: backup.id, sourceDir });
  } catch (error) {
    throw await startedAgainOnSource(ctx, source, id, to, error);
  }
  await rename(paths.dir, sourceDir);
  await ctx.pause('move:detached');

  let url: string | null;
  try {
    ctx.reporter.step(`restoring ${id} on ${target.id} from ${backup.id}`);
    url = (await restore(contextOn(ctx, target), { id, from: backup.id })).url;
    await ctx.pause('move:restored');
  } catch (error) {
    throw (await undo(ctx, journal, started_, source, target, error)).error;
  }
  await finish(ctx, journal, started_, source);
  return { id, from: source.id, to: target.id, outcome: 'moved', backup: backup.id, url, durationMs: ctx.clock.now() - started };
}

async function targetHost(ctx: Context, name: string): Promise<DockerHost> {
  if (name === ctx.dockerHost.id) return ctx.dockerHost;
  const record = await new HostStore(await ctx.adminDb()).require(name);
  if (record.state !== 'active') throw new TenantctlError('conflict', `Docker host ${name} is ${record.state}: it takes no new tenants (tenantctl hosts activate ${name})`);
  const host = await dockerHostFor(ctx, record);
  if (!host) throw new TenantctlError('conflict', `Docker host ${name} has no endpoint registered (tenantctl hosts add ${name} --docker <endpoint>)`);
  return host;
}

/** The target is ready and the row names it: the source's stack and files go, then the journal says so. */
async function finish(ctx: Context, journal: MoveJournal, move: MoveRecord, source: DockerHost): Promise<void> {
  ctx.reporter.step(`removing ${move.customerId} from ${source.id}`);
  const record = await new TenantRegistry(journal.db).require(move.customerId);
  try {
    await removeStack(source, { project: record.composeProject, file: path.join(move.sourceDir, 'docker-compose.yml'), envFile: path.join(move.sourceDir, '.env') }, {
      keepData: false, onProgress: ctx.reporter.detail,
    });
  } catch (error) {
    throw new TenantctlError('docker', `${move.customerId} now runs on ${move.targetHost}, but its old stack on ${source.id} could not be removed: ${messageOf(error)}; run tenantctl move ${move.customerId} --to ${move.targetHost} again to finish`, { cause: error });
  }
  await rm(move.sourceDir, { recursive: true, force: true });
  await journal.complete(move);
}

/**
 * Writes the source accepts after its backup would be lost: every service but the ones the backup
 * reads from (crm: app and worker) stops first. The tenant's API is unavailable (the front door
 * answers 503) from here until the target is ready; undo starts them again.
 */
async function stopWriters(ctx: Context, source: DockerHost, stack: ComposeTarget, id: string): Promise<void> {
  const data: readonly string[] = Object.values(dataServices);
  const containers = await managedContainers(source, { project: stack.project, signal: ctx.signal });
  const writers = [...new Set(containers.filter((c) => c.state === 'running' && !data.includes(c.service)).map((c) => c.service))];
  if (writers.length === 0) return;
  ctx.reporter.step(`stopping ${writers.join(', ')} of ${id} on ${source.id}: nothing written after the backup (its API is unavailable until the target is ready)`);
  await composeVerb(source, stack, ['stop', '--timeout', '10', ...writers], { timeoutMs: composeStopTimeoutMs, signal: ctx.signal, onProgress: ctx.reporter.detail });
}

/** A failure before the row left the source: its stopped services start again (start waits until it is ready). */
async function startedAgainOnSource(ctx: Context, source: DockerHost, id: string, to: string, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  const problem = await startTenant(contextOn(ctx, source), id).then(() => undefined, (failure: unknown) => messageOf(failure));
  first.message = `move of ${id} to ${to} failed: ${first.message}; ${problem === undefined ? `it stays on ${source.id}, working` : `it stays on ${source.id}, but its stopped services did not start again (${problem}): tenantctl start ${id}`}`;
  return first;
}

/**
 * Puts the tenant back on its source: whatever the target got is removed, the source's files come
 * back, the row is restored as saved, the services stopped for the backup start again. Returns the error to throw (the first cause, with the rest in
 * its details) and whether the tenant is whole on its source again. What the target keeps because
 * it stopped answering does not keep the tenant from working on the source: it is said, and the
 * next move to that target removes it first.
 */
async function undo(ctx: Context, journal: MoveJournal, move: MoveRecord, source: DockerHost, target: DockerHost | undefined, error: unknown): Promise<{ error: TenantctlError; backOnSource: boolean }> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  ctx.reporter.step(`putting ${move.customerId} back on ${move.sourceHost}`);
  const problems: string[] = [];
  let leftOnTarget: string | undefined;
  const paths = tenantPaths(ctx.config.customersDir, move.customerId);
  const project = (await new TenantRegistry(journal.db).require(move.customerId)).composeProject;
  // A crash may have left a half-made target; restore removes its own on an ordinary failure.
  if (target) {
    await removeStack(target, { project, file: paths.composeFile, envFile: paths.envFile }, { keepData: false }).catch((problem) => {
      leftOnTarget = messageOf(problem);
    });
  }
  if (await exists(move.sourceDir)) {
    await rm(paths.dir, { recursive: true, force: true });
    await rename(move.sourceDir, paths.dir).catch((problem) => problems.push(`putting ${move.sourceDir} back: ${messageOf(problem)}`));
  }
  const rolledBack = await journal.rollBack(move, first.message).catch((problem) => {
    problems.push(`restoring the record: ${messageOf(problem)}`);
    return undefined;
  });
  if (rolledBack) {
    if (rolledBack.missing.length > 0) {
      problems.push(`${rolledBack.missing.length} of its ${rolledBack.saved} allocations on ${move.sourceHost} were taken by another tenant meanwhile (${rolledBack.missing.join(', ')}): the registry no longer holds them for it, though its containers use them (tenantctl doctor)`);
    }
    await startTenant(contextOn(ctx, source), move.customerId).catch((problem) => problems.push(`starting its stopped services on ${move.sourceHost} again: ${messageOf(problem)} (tenantctl start ${move.customerId})`));
  }
  const backOnSource = problems.length === 0;
  const leftover = leftOnTarget === undefined ? '' : ` (what ${move.targetHost} may hold of it could not be removed: ${leftOnTarget}; the next move there removes it first)`;
  first.message = `move of ${move.customerId} to ${move.targetHost} failed: ${first.message}; ${backOnSource ? `it stays on ${move.sourceHost}, working${leftover}` : `the move could not be undone completely: ${problems.join('; ')}`}`;
  first.details.push(...problems, ...(leftOnTarget === undefined ? [] : [`removing the target's stack: ${leftOnTarget}`]));
  return { error: first, backOnSource };
}

/** Finishes (true) or undoes (false) a move a crash interrupted. */
async function resume(ctx: Context, journal: MoveJournal, move: MoveRecord): Promise<boolean> {
  const db = journal.db;
  const record = await new TenantRegistry(db).require(move.customerId);
  const source = await dockerHostNamed(ctx, db, move.sourceHost);
  if (!source) throw new TenantctlError('conflict', `an interrupted move of ${move.customerId} needs Docker host ${move.sourceHost}, which this environment cannot reach`);
  if (record.host === move.targetHost && record.status === 'active') {
    await requireReachable(ctx, source, `the old stack of ${move.customerId}`);
    await finish(ctx, journal, move, source);
    return true;
  }
  const target = await dockerHostNamed(ctx, db, move.targetHost);
  const { error, backOnSource } = await undo(ctx, journal, move, source, target, new TenantctlError('internal', 'interrupted before the target was ready'));
  if (!backOnSource) throw error;
  return false;
}

const exists = (file: string) => access(file).then(() => true, () => false);
