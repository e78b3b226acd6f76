import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';
import { TenantctlError, usageError } from '../common/errors.js';
import type { SecretBox } from '../secrets/master-key.js';
import { alertKinds, isAlertKind, type AlertKind } from './kinds.js';
import { redactUrl } from './target.js';

// Webhook endpoints (admin_alert_endpoints): a URL, the kinds of event it wants, and its signing
// secret sealed with the master key under the purpose alert-endpoint:<id>, so a sealed value
// copied to another endpoint's row does not open.

export interface AlertEndpoint {
  id: string;
  /** Origin and a short hash only (redactUrl): the path and query may carry a token. */
  url: string;
  allowPrivate: boolean;
  /** Empty: every kind. */
  events: AlertKind[];
  createdBy: string;
  createdAt: string;
}

export const endpointSecretPurpose = (id: string) => `alert-endpoint:${id}`;

const toEndpoint = (row: any): AlertEndpoint => ({
  id: row.id, url: redactUrl(row.url), allowPrivate: row.allow_private, events: row.events, createdBy: row.created_by, createdAt: new Date(row.created_at).toISOString(),
});

/** http(s) only, no user:password in it (it would show in `alerts list`), at most 2,000 characters. */
export function parseEndpointUrl(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0) throw usageError('give the webhook URL (http:// or https://)');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`${JSON.stringify(raw)} is not a URL; give http://host[:port]/path or https://...`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`webhook URL must be http:// or https://, not ${url.protocol}`);
  if (url.username || url.password) throw usageError('webhook URL must not carry a user or password (it is shown by alerts list); the signature authenticates tenantctl to the receiver');
  if (raw.length > 2000) throw usageError('webhook URL is longer than 2000 characters');
  return url.toString();
}

/** `--events tenant.down,tenant.recovered` (repeatable); none: all. */
export function parseEventFilter(values: readonly string[]): AlertKind[] {
  const kinds = [...new Set(values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean))];
  const bad = kinds.filter((k) => !isAlertKind(k));
  if (bad.length > 0) throw usageError(`unknown event ${bad.join(', ')}; events are ${alertKinds.join(', ')}`);
  return kinds as AlertKind[];
}

export function parseEndpointId(raw: unknown): string {
  if (typeof raw !== 'string' || !/^ep-[a-z0-9]{8}$/.test(raw)) throw usageError(`${JSON.stringify(raw)} is not an endpoint id (ep- and 8 letters or digits, as alerts list shows)`);
  return raw;
}

export function newEndpointId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `ep-${[...randomBytes(8)].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

/** A signing secret: 32 random bytes, hex, with a prefix that says what it is when found in a file. */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(32).toString('hex')}`;
}

/** In the caller's transaction (with its audit row). */
export async function insertEndpoint(client: pg.ClientBase, db: Pick<AdminDb, 'actor'>, box: SecretBox, input: { id: string; url: string; events: AlertKind[]; secret: string; allowPrivate: boolean }): Promise<AlertEndpoint> {
  const sealed = box.seal(input.secret, endpointSecretPurpose(input.id));
  const { rows } = await client.query(
    'INSERT INTO admin_alert_endpoints (id, url, secret_ciphertext, events, allow_private, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
    [input.id, input.url, sealed, input.events, input.allowPrivate, db.actor],
  );
  return toEndpoint(rows[0]);
}

export async function listEndpoints(db: AdminDb): Promise<AlertEndpoint[]> {
  const { rows } = await db.pool.query('SELECT id, url, events, allow_private, created_by, created_at FROM admin_alert_endpoints ORDER BY created_at, id').catch(db.unreachable);
  return rows.map(toEndpoint);
}

export async function requireEndpoint(db: AdminDb, id: string): Promise<AlertEndpoint> {
  const { rows } = await db.pool.query('SELECT id, url, events, allow_private, created_by, created_at FROM admin_alert_endpoints WHERE id = $1', [id]).catch(db.unreachable);
  if (!rows[0]) throw new TenantctlError('notFound', `no alert endpoint ${id} (alerts list shows them)`);
  return toEndpoint(rows[0]);
}

/** Removes the endpoint and its deliveries (pending ones are not sent any more), in the caller's transaction (with its audit row). */
export async function deleteEndpoint(client: pg.ClientBase, id: string): Promise<{ deliveriesRemoved: number }> {
  const { rows } = await client.query('SELECT count(*)::int AS n FROM admin_alert_deliveries WHERE endpoint_id = $1', [id]);
  const { rowCount } = await client.query('DELETE FROM admin_alert_endpoints WHERE id = $1', [id]);
  if (!rowCount) throw new TenantctlError('notFound', `no alert endpoint ${id} (alerts list shows them)`);
  return { deliveriesRemoved: rows[0].n as number };
}

/** The endpoint's signing secret, opened with the master key. */
export function openEndpointSecret(box: SecretBox, id: string, sealed: string): string {
  return box.open(sealed, endpointSecretPurpose(id));
}
