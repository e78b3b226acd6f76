import path from 'node:path';
import type { Context } from '../context.js';
import { BatchFailure, TenantctlError, messageOf, usageError, withNote } from '../common/errors.js';
import { ensurePrivateDir, writePrivateFile } from '../common/private-files.js';
import { openSecretBox } from '../secrets/master-key.js';
import { recordAudit } from '../audit/write.js';
import {
  deleteEndpoint, insertEndpoint, listEndpoints, newEndpointId, newEndpointSecret, parseEndpointId, parseEndpointUrl,
  parseEventFilter, requireEndpoint, type AlertEndpoint,
} from './endpoints.js';
import { randomUUID } from 'node:crypto';
import { deliverDue, deliverySettings, type DeliveryResult } from './deliver.js';
import { queueClaimedIn } from './raise.js';
import { requirePublicTarget } from './target.js';
import { listDeliveries, type DeliveryRow } from './deliveries.js';

// `tenantctl alerts add|list|remove|test|deliveries`.

export interface AddedEndpoint extends AlertEndpoint {
  /** Where the signing secret was written (0600); it is never printed. */
  secretFile: string;
}

/**
 * Adds an endpoint. Its signing secret goes to a new 0600 file (--secret-file, or
 * <stateDir>/alert-secrets/<id>.secret), never to stdout or a log: the receiver's operator reads it
 * from there. The sealed copy in the admin database is what deliveries are signed with.
 */
export async function addEndpoint(ctx: Context, input: { url: unknown; events?: string[]; secretFile?: string; allowPrivate?: boolean }): Promise<AddedEndpoint> {
  const url = parseEndpointUrl(input.url);
  const events = parseEventFilter(input.events ?? []);
  const allowPrivate = input.allowPrivate === true;
  await requirePublicTarget(url, allowPrivate);
  const id = newEndpointId();
  const secretFile = input.secretFile ? path.resolve(input.secretFile) : path.join(ctx.config.stateDir, 'alert-secrets', `${id}.secret`);
  const db = await ctx.adminDb();
  const box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir });
  const secret = newEndpointSecret();
  await ensurePrivateDir(path.dirname(secretFile));
  try {
    await writePrivateFile(secretFile, `${secret}\n`, { exclusive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw usageError(`${secretFile} exists already; give another --secret-file (a secret is never overwritten)`);
    throw new TenantctlError('internal', `cannot write ${secretFile}: ${(error as Error).message}`, { cause: error });
  }
  try {
    // The endpoint and its audit row together, or neither.
    const endpoint = await db.withTransaction(async (client) => {
      const added = await insertEndpoint(client, db, box, { id, url, events, secret, allowPrivate });
      await recordAudit(db, client, null, 'alerts.endpoint-added', null, { endpoint: id, url: added.url, events, allowPrivate });
      return added;
    });
    return { ...endpoint, secretFile };
  } catch (error) {
    // Nothing left behind: a secret file for an endpoint that does not exist would mislead.
    // If it cannot be removed, the error says so (a reporter line would be lost under --quiet).
    const leftBehind = await import('node:fs/promises').then((fs) => fs.rm(secretFile, { force: true })).then(
      () => undefined,
      (rmError: unknown) => `${secretFile} is left behind (no endpoint has it; remove it): ${messageOf(rmError)}`,
    );
    throw leftBehind === undefined ? error : withNote(error, leftBehind);
  }
}

export async function endpoints(ctx: Context): Promise<AlertEndpoint[]> {
  return listEndpoints(await ctx.adminDb());
}

export async function removeEndpoint(ctx: Context, input: { id: unknown }): Promise<{ id: string; removed: true; deliveriesRemoved: number }> {
  const id = parseEndpointId(input.id);
  const db = await ctx.adminDb();
  const endpoint = await requireEndpoint(db, id);
  // The removal and its audit row together, or neither.
  const { deliveriesRemoved } = await db.withTransaction(async (client) => {
    const removed = await deleteEndpoint(client, id);
    await recordAudit(db, client, null, 'alerts.endpoint-removed', { endpoint: id, url: endpoint.url }, null);
    return removed;
  });
  return { id, removed: true, deliveriesRemoved };
}

export interface TestResult {
  deliveries: DeliveryResult[];
  ok: boolean;
}

/** Sends one signed `test` delivery to the endpoint (or every endpoint) now, once; reports each HTTP status. */
export async function testEndpoints(ctx: Context, input: { id?: unknown }): Promise<TestResult> {
  const db = await ctx.adminDb();
  const targets = input.id === undefined ? await listEndpoints(db) : [await requireEndpoint(db, parseEndpointId(input.id))];
  if (targets.length === 0) throw new TenantctlError('notFound', 'no alert endpoint to test: add one with tenantctl alerts add <url>');
  const now = new Date(ctx.clock.now());
  // Queued already claimed by this test (one transaction): a running delivery loop never sees them due.
  const token = randomUUID();
  const leaseMs = targets.length * deliverySettings(ctx).timeoutMs + 5_000;
  const ids = await db.withTransaction(async (client) => {
    const made: string[] = [];
    for (const t of targets) made.push(await queueClaimedIn(client, t.id, { kind: 'test', summary: `test delivery from tenantctl (${ctx.actor})`, host: ctx.dockerHost.id }, now, { token, leaseMs }));
    return made;
  });
  const deliveries = await deliverDue(ctx, ctx.signal, { claimed: { ids, token }, retry: false });
  const result = { deliveries, ok: deliveries.length === targets.length && deliveries.every((d) => d.state === 'delivered') };
  // The statuses are the output either way; an endpoint that did not take it makes the exit 9.
  if (!result.ok) throw new BatchFailure(result, `${deliveries.filter((d) => d.state !== 'delivered').length} of ${targets.length} endpoints did not accept the test delivery`);
  return result;
}

export async function deliveries(ctx: Context, input: { failed?: boolean; endpoint?: unknown; limit?: string }): Promise<DeliveryRow[]> {
  const limit = input.limit === undefined ? 50 : Number(input.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw usageError('--limit must be a whole number from 1 to 10000');
  const endpoint = input.endpoint === undefined ? undefined : parseEndpointId(input.endpoint);
  return listDeliveries(await ctx.adminDb(), { failed: input.failed ?? false, endpoint, limit });
}
