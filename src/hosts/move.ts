import { access, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Context } from '../context.js';
import type { DockerHost } from '../engine/docker-host.js';
import { TenantctlError, messageOf, usageError } from '../common/errors.js';
import { parseOrUsage, parseTenantId } from '../tenants/input.js';
import { TenantRegistry } from '../tenants/registry.js';
import { holdTenant } from '../tenants/hold.js';
import { tenantPaths } from '../tenants/files.js';
import { composeVerb } from '../stack/day2.js';
import { composeStopTimeoutMs } from '../common/timeouts.js';
import { LostLockError, type AdminDb } from '../admin-db/database.js';
import { backupTenant } from '../backups/backup.js';
import { dropRestoreLeftovers, locateAndVerify, readBackupDocument, replaceData, type RestoreIntent } from '../backups/restore.js';
import { setModulesBack } from '../modules/set-back.js';
import { startTenant } from '../tenants/lifecycle.js';
import { loadTenantTemplate } from '../tenants/tenant-template.js';
import { requireState } from '../backups/pieces.js';
import { tenantState } from '../backups/tenant-state.js';
import { requireTenantFor, suspendedRefusal } from '../tenants/day2-target.js';
import { refuseOnSwarm } from '../swarm/swarm-stack.js';
import { recordAudit } from '../audit/write.js';
import { OperationJournal, type Operation } from '../operations/journal.js';
import { HostStore } from './store.js';
import { hostNameSchema } from './commands.js';
import { putRowBack, saveAndDetach, type SavedTenant } from './move-record.js';
import { probeHost } from './probe.js';
import { revokeApiKeysById } from '../api-keys/store.js';
import { managedContainers, objectsByLabel } from '../engine/docker.js';
import { projectLabel, removeStack } from '../stack/removal.js';
import { contextOn, dockerHostFor, dockerHostNamed, requireReachable } from './resolve.js';

// `tenantctl move <id> --to <host>`, under the tenant's lock for the whole run, journaled in
// admin_operations (verb 'move') before its first effect and after each step:
//   begun            intent: the target, where the source's files will wait
//   writers-stopped  the source's services that write are stopped (db and redis keep running)
//   backed-up        a backup on the source (its id recorded)
//   detached         the row saved in the journal and detached from the source, in one transaction;
//                    then customers/<id>/ waits aside
//   restore:*        the restore on the target: provision, data, proven ready (backups/restore.ts)
//   restored         the target is proven ready and what its restore replaced is dropped
//   source-removed   the source's stack removed (only now: it was the only copy until the target was proven)
// Any failure before 'restored' puts the tenant back on its source, working; a run killed on the way
// is settled by the next command on the tenant from the recorded step: undone before 'restored',
// finished from it. The error is always the first cause.

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

/** A move's journal data: its intent, then what each step learned (the backup, the saved row). */
export interface MoveIntent extends Partial<RestoreIntent>, Partial<SavedTenant> {
  targetHost: string;
  /** Where customers/<id>/ of the source waits while the target is made. */
  sourceDir: string;
  /** Set by an undo that could not remove what the target got (it stopped answering): the next move there removes it first. */
  leftOnTarget?: boolean;
  /** The engines' own IDs (docker info) when the move began: the source's stack is removed only from that engine. */
  sourceEngine?: string;
  targetEngine?: string;
  /** The API key the target's provision made (its initial key): the only key a move revokes. */
  targetKey?: string;
  /** Carried over from admin_tenant_moves (an older tenantctl's move, migration 011): how far it got is not recorded. */
  carriedOver?: boolean;
}

const pastRestored = (step: string) => step === 'restored' || step === 'source-removed';
const detached = (op: Operation<MoveIntent>) => op.data.savedRow !== undefined;

export async function move(ctx: Context, input: { id: unknown; to: unknown }): Promise<MoveResult> {
  const started = ctx.clock.now();
  const id = parseTenantId(input.id);
  const to = parseOrUsage(hostNameSchema, input.to, '--to host');
  // The tenant's lock for the whole move (its backup, restore and undo take it again, nested); an
  // interrupted move is settled here first, from its journal.
  const release = await holdTenant(ctx, id);
  try {
    return await moveHeld(ctx, await ctx.adminDb(), id, to, started);
  } finally {
    await release();
  }
}

async function moveHeld(ctx: Context, db: AdminDb, id: string, to: string, started: number): Promise<MoveResult> {
  const registry = new TenantRegistry(db);
  const record = await registry.require(id);
  if (record.host === to) return { id, from: to, to, outcome: 'already-there', url: record.appUrl, durationMs: ctx.clock.now() - started };
  if (record.status === 'suspended') throw suspendedRefusal(record, 'be moved');
  if (record.status !== 'active') throw new TenantctlError('conflict', `tenant ${id} is ${record.status}; only an active tenant is moved (tenantctl start ${id})`);
  const source = await dockerHostNamed(ctx, db, record.host);
  if (!source) throw new TenantctlError('conflict', `tenant ${id} is on Docker host ${record.host}, which only its own environment reaches (DOCKER_HOST, TENANTCTL_HOST_ID)`);
  const target = await targetHost(ctx, to);
  // Backup and restore work from the template's declared state, and neither reaches a swarm yet: refused (exit 2) before anything stops.
  const template = await loadTenantTemplate(ctx, record);
  requireState(template.block, id, 'be moved', template.name);
  refuseOnSwarm(source, 'move', 'a move is built for compose hosts (writers stopped and state swapped by compose on one engine)');
  refuseOnSwarm(target, 'move', 'a move is built for compose hosts (writers stopped and state swapped by compose on one engine)');
  const [sourceEngine, targetEngine] = await Promise.all([requireReachable(ctx, source, `tenant ${id}`), requireReachable(ctx, target)]);
  // By the engine's own ID, not its address: one daemon reached two ways (its socket and tcp, tcp
  // and ssh) would have the removal below take the live tenant's containers and volumes.
  if (source === target || !sourceEngine.engineId || sourceEngine.engineId === targetEngine.engineId) {
    throw usageError(`Docker hosts ${source.id} and ${target.id} are the same engine (docker info ID ${sourceEngine.engineId || 'not given'}); a move needs two engines`);
  }
  const journal = new OperationJournal(db);
  // What an earlier move of this tenant could not remove from this target (it stopped answering) goes first.
  await clearRecordedLeftovers(ctx, db, id, record.composeProject, target);

  const paths = tenantPaths(ctx.config.customersDir, id);
  const op = await journal.begin<MoveIntent>({
    tenant: id, verb: 'move', host: source.id,
    data: { targetHost: target.id, sourceDir: path.join(ctx.config.customersDir, `.${id}.move-source`), sourceEngine: sourceEngine.engineId, targetEngine: targetEngine.engineId },
  });
  let backupId: string;
  try {
    await ctx.pause('move:begun');
    await stopWriters(contextOn(ctx, source), id);
    await journal.step(op, 'writers-stopped');
    await ctx.pause('move:writers-stopped');
    ctx.reporter.step(`backing up ${id} on ${source.id}`);
    const backup = await backupTenant(contextOn(ctx, source), id, { method: 'logical' });
    backupId = backup.id;
    // The restore's intent too: a new tenant on the target, from this backup, with names of its own.
    await journal.step(op, 'backed-up', { backup: backup.id, dir: backup.directory, source: id, mode: 'new', suffix: randomBytes(4).toString('hex'), before: null });
    await ctx.pause('move:backed-up');
    // The row leaves the source in the same transaction that saves it in the journal.
    await journal.step(op, 'detached', {}, (client) => saveAndDetach(db, client, id, target.id));
    await rename(paths.dir, op.data.sourceDir);
    await ctx.pause('move:detached');
  } catch (error) {
    throw await failed(ctx, op, error);
  }

  let url: string | null;
  try {
    url = await restoreOnTarget(ctx, journal, op, contextOn(ctx, target), backupId);
    await journal.step(op, 'restored');
  } catch (error) {
    throw await failed(ctx, op, error);
  }
  // Past 'restored' the target is the tenant: a failure from here on finishes the move, never undoes it.
  try {
    await ctx.pause('move:restored');
    await finishMove(ctx, journal, op, source);
  } catch (error) {
    throw await finishAfterFailure(ctx, journal, op, source, error);
  }
  return { id, from: source.id, to: target.id, outcome: 'moved', backup: backupId, url, durationMs: ctx.clock.now() - started };
}

/** The backup verified, the tenant provisioned on the target, its data replaced and proven ready, what that replaced dropped. */
async function restoreOnTarget(ctx: Context, journal: OperationJournal, op: Operation<MoveIntent>, onTarget: Context, backupId: string): Promise<string | null> {
  const id = op.tenant;
  ctx.reporter.step(`restoring ${id} on ${onTarget.dockerHost.id} from ${backupId}`);
  const { dir } = await locateAndVerify(onTarget, backupId);
  const document = await readBackupDocument(onTarget, dir);
  const { provision } = await import('../tenants/provision.js');
  const provisioned = await provision(onTarget, { id, name: document.record.name, plan: document.record.plan, template: document.record.template ?? 'crm', with: document.record.profiles ?? [] });
  await journal.step(op, 'restore:provisioned', { targetKey: provisioned.initialApiKey?.id });
  await ctx.pause('restore:provisioned');
  await replaceData(onTarget, journal, op as Operation<RestoreIntent & MoveIntent>, id, { prefix: 'restore:' });
  await dropRestoreLeftovers(onTarget, op as Operation<RestoreIntent & MoveIntent>);
  await setModulesBack(await ctx.adminDb(), id, document.modules ?? []);
  return provisioned.url;
}

async function targetHost(ctx: Context, name: string): Promise<DockerHost> {
  if (name === ctx.dockerHost.id) return ctx.dockerHost;
  const record = await new HostStore(await ctx.adminDb()).require(name);
  if (record.state !== 'active') throw new TenantctlError('conflict', `Docker host ${name} is ${record.state}: it takes no new tenants (tenantctl hosts activate ${name})`);
  const host = await dockerHostFor(ctx, record);
  if (!host) throw new TenantctlError('conflict', `Docker host ${name} has no endpoint registered (tenantctl hosts add ${name} --docker <endpoint>)`);
  return host;
}

/**
 * What the last undone move of this tenant to `target` recorded as left there (its target stopped
 * answering before the undo could remove it): removed now by the project's label, then the record
 * says so. Nothing else of the project on the target is touched: the restore's provision refuses
 * objects no row accounts for (exit 5) rather than deleting them.
 */
async function clearRecordedLeftovers(ctx: Context, db: AdminDb, id: string, project: string, target: DockerHost): Promise<void> {
  const { rows } = await db.pool.query(
    "SELECT id FROM admin_operations WHERE customer_id = $1 AND verb = 'move' AND state = 'undone' AND data->>'targetHost' = $2 AND (data->>'leftOnTarget')::boolean",
    [id, target.id],
  ).catch(db.unreachable);
  if (rows.length === 0) return;
  ctx.reporter.step(`removing what an earlier move of ${id} left on ${target.id}`);
  await removeStack(target, { project, file: '' }, { keepData: false });
  await db.withTransaction(async (client) => {
    await client.query("UPDATE admin_operations SET data = data || '{\"leftOnTarget\": false}'::jsonb WHERE id = ANY($1::bigint[])", [rows.map((r) => r.id)]);
    await recordAudit(db, client, id, 'move.leftovers-removed', { host: target.id }, null);
  });
}

/**
 * The target is proven ready and the row names it: the source's stack goes (it was the only copy
 * until now; removed only from the engine the move began on), then its files, and the journal
 * closes, releasing the source's allocations and revoking the key the target's provision made (the
 * customer's own keys were never touched). A source that does not answer keeps its old stack: the
 * move is complete all the same (the tenant runs on the target), and says so; doctor finds the old
 * stack there as a move's leftovers once the host is back.
 */
async function finishMove(ctx: Context, journal: OperationJournal, op: Operation<MoveIntent>, source: DockerHost): Promise<void> {
  const id = op.tenant;
  const db = journal.db;
  ctx.reporter.step(`removing ${id} from ${source.id}`);
  const record = await new TenantRegistry(db).require(id);
  let leftOnSource: string | undefined;
  if (op.step !== 'source-removed') {
    const probe = await probeHost(source, ctx.signal);
    if (!probe.reachable) leftOnSource = `${source.id} does not answer (${probe.error}): its old stack stays there until doctor removes it as a move's leftovers`;
    else if (op.data.sourceEngine && probe.engineId !== op.data.sourceEngine) {
      leftOnSource = `${source.id} reaches engine ${probe.engineId} now, not ${op.data.sourceEngine}, which the move began on: nothing was removed there`;
    } else {
      try {
        const file = path.join(op.data.sourceDir, 'docker-compose.yml');
        await removeStack(source, { project: record.composeProject, file, envFile: path.join(op.data.sourceDir, '.env') }, { keepData: false, onProgress: ctx.reporter.detail });
      } catch (error) {
        throw new TenantctlError('docker', `${id} now runs on ${op.data.targetHost}, but its old stack on ${source.id} could not be removed: ${messageOf(error)}; the next command on ${id} tries again`, { cause: error });
      }
      await journal.step(op, 'source-removed');
      await ctx.pause('move:source-removed');
    }
  }
  if (leftOnSource) ctx.reporter.info(leftOnSource);
  await rm(op.data.sourceDir, { recursive: true, force: true });
  await journal.finish(op, 'completed', leftOnSource ?? null, async (client) => {
    await client.query('DELETE FROM admin_allocations WHERE customer_id = $1 AND host = $2', [id, op.host]);
    if (op.data.targetKey) await revokeApiKeysById(db, client, id, [op.data.targetKey]);
    await recordAudit(db, client, id, 'move.completed', { host: op.host }, { host: op.data.targetHost, backup: op.data.backup, ...(leftOnSource ? { leftOnSource } : {}) });
  });
}

/**
 * Writes the source accepts after its backup would be lost: every service but the PostgreSQL and
 * Redis servers the backup asks for their snapshots stops first (crm: app and worker; frontbase:
 * every other service: its SQLite files are read from their volumes). The tenant's API is
 * unavailable (the front door answers 503) from here until the target is ready; an undo starts
 * them again.
 */
async function stopWriters(onSource: Context, id: string): Promise<void> {
  const t = await requireTenantFor(onSource, id, 'be moved', ['active']);
  const { pieces } = await tenantState(onSource, await onSource.adminDb(), t, 'be moved');
  const servers = new Set(pieces.filter((p) => p.kind === 'postgres' || p.kind === 'redis').map((p) => p.service));
  const containers = await managedContainers(onSource.dockerHost, { project: t.record.composeProject, signal: onSource.signal });
  const writers = [...new Set(containers.filter((c) => c.state === 'running' && !servers.has(c.service)).map((c) => c.service))];
  if (writers.length === 0) return;
  onSource.reporter.step(`stopping ${writers.join(', ')} of ${id} on ${onSource.dockerHost.id}: nothing written after the backup (its API is unavailable until the target is ready)`);
  await composeVerb(onSource.dockerHost, t.target, ['stop', '--timeout', '10', ...writers], { timeoutMs: composeStopTimeoutMs, signal: onSource.signal, onProgress: onSource.reporter.detail });
}

/**
 * The failing run puts the tenant back on its source (even after Ctrl-C: with a signal of its own);
 * a lost lock undoes nothing (another tenantctl may hold the tenant now: the next command settles
 * the journal). Returns the first cause, with what the undo did in its message and details.
 */
async function failed(ctx: Context, op: Operation<MoveIntent>, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  // Only under a lock still ours: another tenantctl may be working on the tenant now.
  if (first instanceof LostLockError || (await (await ctx.adminDb()).locksProven())) {
    first.message = `move of ${op.tenant} to ${op.data.targetHost} stopped: ${first.message}`;
    first.details.push(`stopped at step ${op.step}; the next command on ${op.tenant} finishes or undoes the move from its journal`);
    return first;
  }
  const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
  try {
    return (await undoMove(quiet, op, first)).error;
  } catch (problem) {
    first.message = `move of ${op.tenant} to ${op.data.targetHost} failed: ${first.message}`;
    first.details.push(`undoing it failed: ${messageOf(problem)}; the journal keeps the move (step ${op.step}): the next command on ${op.tenant} tries again`);
    return first;
  }
}

/** Interrupted (or failing) after the target was proven: the move is finished, with a signal of its own; else the next command finishes it. */
async function finishAfterFailure(ctx: Context, journal: OperationJournal, op: Operation<MoveIntent>, source: DockerHost, error: unknown): Promise<TenantctlError> {
  const first = error instanceof TenantctlError ? error : new TenantctlError('internal', messageOf(error), { cause: error });
  if (first instanceof LostLockError || op.state !== 'running' || (await journal.db.locksProven())) return first;
  const quiet: Context = { ...ctx, signal: new AbortController().signal, pause: async () => {} };
  await finishMove(quiet, journal, op, source).then(
    () => first.details.push(`${op.tenant} had been proven ready on ${op.data.targetHost}: the move was finished`),
    (problem) => first.details.push(`${op.tenant} runs on ${op.data.targetHost}; finishing the move failed: ${messageOf(problem)}; the next command on ${op.tenant} finishes it`),
  );
  return first;
}

/**
 * Puts the tenant back on its source: what the target got is removed (only if the restore's
 * provision got as far as recording the tenant there: before that, anything of the project on the
 * target is not this move's), the source's files come back, the row is put back as saved, the
 * services stopped for the backup start again. Returns the error to throw and whether the tenant is
 * whole on its source again.
 */
async function undoMove(ctx: Context, op: Operation<MoveIntent>, first: TenantctlError): Promise<{ error: TenantctlError; backOnSource: boolean }> {
  const id = op.tenant;
  const db = await ctx.adminDb();
  const journal = new OperationJournal(db);
  ctx.reporter.step(`putting ${id} back on ${op.host}`);
  const problems: string[] = [];
  let leftOnTarget: string | undefined;
  const paths = tenantPaths(ctx.config.customersDir, id);
  const record = await new TenantRegistry(db).require(id);
  const source = await dockerHostNamed(ctx, db, op.host);
  if (!source) throw new TenantctlError('conflict', `the move of ${id} needs Docker host ${op.host} to be undone, which this environment cannot reach`);
  if (detached(op) && record.host === op.data.targetHost) {
    // The target's stack is removed only while the source still holds the tenant's data: else it may be the only copy.
    if ((await objectsByLabel(source, projectLabel(record.composeProject), ctx.signal)).volumes.length === 0) {
      throw new TenantctlError('conflict', `not undoing the move of ${id}: ${op.host} holds none of its volumes any more, so what ${op.data.targetHost} holds may be its only copy; see where it runs (tenantctl status ${id}) and close the operation (tenantctl operations abandon ${id})`);
    }
    const target = await dockerHostNamed(ctx, db, op.data.targetHost);
    if (!target) leftOnTarget = `Docker host ${op.data.targetHost} cannot be reached from this environment`;
    else {
      await removeStack(target, { project: record.composeProject, file: '' }, { keepData: false }).catch((problem) => {
        leftOnTarget = messageOf(problem);
      });
    }
  }
  if (await exists(op.data.sourceDir)) {
    await rm(paths.dir, { recursive: true, force: true });
    await rename(op.data.sourceDir, paths.dir).catch((problem) => problems.push(`putting ${op.data.sourceDir} back: ${messageOf(problem)}`));
  }
  let rowBack = !detached(op);
  if (detached(op)) {
    const saved = op.data as Required<SavedTenant>;
    await journal.step(op, op.step, { leftOnTarget: leftOnTarget !== undefined }, async (client) => {
      const back = await putRowBack(db, client, id, saved, { sourceHost: op.host, targetHost: op.data.targetHost, reason: first.message });
      if (op.data.targetKey) await revokeApiKeysById(db, client, id, [op.data.targetKey]);
      if (back.missing.length > 0) {
        problems.push(`${back.missing.length} of its ${back.saved} allocations on ${op.host} were taken by another tenant meanwhile (${back.missing.join(', ')}): the registry no longer holds them for it, though its containers use them (tenantctl doctor)`);
      }
    }).then(() => {
      rowBack = true;
    }, (problem) => problems.push(`restoring the record: ${messageOf(problem)}`));
  }
  if (rowBack) {
    await startTenant(contextOn(ctx, source), id).catch((problem) => problems.push(`starting its stopped services on ${op.host} again: ${messageOf(problem)} (tenantctl start ${id})`));
  }
  const backOnSource = problems.length === 0;
  const leftover = leftOnTarget === undefined ? '' : ` (what ${op.data.targetHost} may hold of it could not be removed: ${leftOnTarget}; the next move there removes it first)`;
  first.message = `move of ${id} to ${op.data.targetHost} failed: ${first.message}; ${backOnSource ? `it stays on ${op.host}, working${leftover}` : `the move could not be undone completely: ${problems.join('; ')}`}`;
  first.details.push(...problems, ...(leftOnTarget === undefined ? [] : [`removing the target's stack: ${leftOnTarget}`]));
  if (rowBack) {
    // Undone even when a part of it failed: the row is back on the source, and what is wrong is said (exit of the first cause).
    await journal.finish(op, 'undone', first.message).catch((problem) => first.details.push(`closing the journal: ${messageOf(problem)}`));
  }
  return { error: first, backOnSource };
}

/** Settles a move a killed run left: finished once its target was proven ready, else undone. */
export async function resumeMove(ctx: Context, op: Operation<MoveIntent>): Promise<'finished' | 'undone'> {
  const db = await ctx.adminDb();
  const source = await dockerHostNamed(ctx, db, op.host);
  if (!source) throw new TenantctlError('conflict', `an interrupted move of ${op.tenant} needs Docker host ${op.host}, which this environment cannot reach`);
  // An older tenantctl's move (migration 011) did not record how far it got: while the source holds
  // the tenant's volumes it never removed them, so it is undone; once it does not, the target is
  // the only copy, and the move is finished.
  const finished = op.data.carriedOver && !pastRestored(op.step)
    ? (await objectsByLabel(source, projectLabel((await new TenantRegistry(db).require(op.tenant)).composeProject), ctx.signal)).volumes.length === 0
    : pastRestored(op.step);
  if (finished) {
    await finishMove(ctx, new OperationJournal(db), op, source);
    return 'finished';
  }
  const { error, backOnSource } = await undoMove(ctx, op, new TenantctlError('internal', `interrupted at step ${op.step}, before the target was proven ready`));
  if (!backOnSource) throw error;
  return 'undone';
}


const exists = (file: string) => access(file).then(() => true, () => false);
