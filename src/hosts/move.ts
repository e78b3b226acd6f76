import { access, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.js';
import type { DockerHost } from '../stack/docker-host.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { parseOrUsage, parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { tenantPaths } from '../tenants/files.js';
import { removeStack } from '../stack/removal.js';
import { backupTenant } from '../backups/backup.js';
import { restore } from '../backups/restore.js';
import { HostStore } from './store.js';
import { hostNameSchema } from './commands.js';
import { MoveJournal, type MoveRecord } from './move-journal.js';
import { contextOn, dockerHostFor, dockerHostNamed, requireReachable } from './resolve.js';

// `tenantctl move <id> --to <host>`: a backup on the source (which keeps running), the journal
// written, the row detached from the source, restore on the target (provision, data, readiness),
// then the source removed. Until the target is ready nothing of the source is touched: any failure
// puts the row back and the tenant goes on working where it was; the error is the first cause. A
// run killed half-way is finished (target ready) or undone (not ready) by the next `move`.

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
  if (sameEngine(source, target)) throw usageError(`Docker hosts ${source.id} and ${target.id} are the same engine (${describe(target)}); a move needs two engines`);
  await Promise.all([requireReachable(ctx, source, `tenant ${id}`), requireReachable(ctx, target)]);
  // The row names the source, so anything of the tenant's project on the target is what an earlier
  // move left there when the target stopped answering half-way: it goes before it can mix with the new stack.
  // No compose file: removal by the project's label only (a swarm: through its manager).
  await removeStack(target, { project: record.composeProject, file: '' }, { keepData: false });

  ctx.reporter.step(`backing up ${id} on ${source.id}`);
  const backup = await backupTenant(contextOn(ctx, source), id);
  await ctx.pause('move:backed-up');

  const paths = tenantPaths(ctx.config.customersDir, id);
  const sourceDir = path.join(ctx.config.customersDir, `.${id}.move-source`);
  // The journal before the files: a crash in between finds the journal and the files still in place.
  const started_ = await journal.begin({ customerId: id, sourceHost: source.id, targetHost: target.id, backupId: backup.id, sourceDir });
  await rename(paths.dir, sourceDir);
  await ctx.pause('move:detached');

  let url: string | null;
  try {
    ctx.reporter.step(`restoring ${id} on ${target.id} from ${backup.id}`);
    url = (await restore(contextOn(ctx, target), { id, from: backup.id })).url;
    await ctx.pause('move:restored');
  } catch (error) {
    throw (await undo(ctx, journal, started_, target, error)).error;
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
 * Puts the tenant back on its source: whatever the target got is removed, the source's files come
 * back, the row is restored as saved. Returns the error to throw (the first cause, with the rest in
 * its details) and whether the tenant is whole on its source again. What the target keeps because
 * it stopped answering does not keep the tenant from working on the source: it is said, and the
 * next move to that target removes it first.
 */
async function undo(ctx: Context, journal: MoveJournal, move: MoveRecord, target: DockerHost | undefined, error: unknown): Promise<{ error: TenantctlError; backOnSource: boolean }> {
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
  await journal.rollBack(move, first.message).catch((problem) => problems.push(`restoring the record: ${messageOf(problem)}`));
  const backOnSource = problems.length === 0;
  const leftover = leftOnTarget === undefined ? '' : ` (what ${move.targetHost} may hold of it could not be removed: ${leftOnTarget}; the next move there removes it first)`;
  first.message = `move of ${move.customerId} to ${move.targetHost} failed: ${first.message}; ${backOnSource ? `it stays on ${move.sourceHost}, working${leftover}` : 'the move could not be undone completely: run it again'}`;
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
  const { error, backOnSource } = await undo(ctx, journal, move, target, new TenantctlError('internal', 'interrupted before the target was ready'));
  if (!backOnSource) throw error;
  return false;
}

function sameEngine(a: DockerHost, b: DockerHost): boolean {
  return a === b || describe(a) === describe(b);
}

const describe = (host: DockerHost) => (host.endpoint.kind === 'local' ? 'unix:///var/run/docker.sock' : host.endpoint.url);

const exists = (file: string) => access(file).then(() => true, () => false);
