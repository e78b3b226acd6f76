import * as z from 'zod/mini';
import '../common/zod.js';
import { TenantctlError } from '../common/errors.js';
import type pg from 'pg';
import type { AdminDb } from '../admin-db/database.js';
import { recordAudit } from '../audit/write.js';
import { parseOrUsage } from '../tenants/input.js';
import type { RouteInput } from './render.js';

// Custom domains (admin_customer_domains, migration 006) and what the front door reads of the
// registry: every tenant that is not deprovisioned, with its Docker host and its domains
// (fleet-routes.ts decides which of them this machine's front door serves, and where it dials them).

export const domainSchema = z.string().check(
  z.trim(),
  z.toLowerCase(),
  z.maxLength(253, 'must be at most 253 characters'),
  z.regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS name such as www.example.com: letters, digits and dashes in dot-separated labels (no wildcard, no port, no scheme)'),
);

/** A custom domain: a DNS name with at least two labels, not the base domain nor a name under it (those are tenants' own). */
export function parseDomain(value: unknown, baseDomain: string): string {
  const domain = parseOrUsage(domainSchema, value, 'domain');
  if (domain === baseDomain || domain.endsWith(`.${baseDomain}`)) {
    throw new TenantctlError('usage', `domain ${domain}: names under ${baseDomain} are tenants' own (<id>.${baseDomain}); give a domain of the customer's`);
  }
  return domain;
}

export interface DomainRecord {
  domain: string;
  customerId: string;
  createdAt: string;
}

export async function listDomains(db: AdminDb, customerId?: string): Promise<DomainRecord[]> {
  const { rows } = await db.pool.query(
    `SELECT domain, customer_id, created_at FROM admin_customer_domains ${customerId ? 'WHERE customer_id = $1' : ''} ORDER BY customer_id, domain`,
    customerId ? [customerId] : [],
  ).catch(db.unreachable);
  return rows.map((r: any) => ({ domain: r.domain, customerId: r.customer_id, createdAt: (r.created_at as Date).toISOString() }));
}

/** Adds the domain to the tenant (audited). Already the tenant's: changed false. Another tenant's: exit 5. */
export async function addDomain(db: AdminDb, customerId: string, domain: string): Promise<{ changed: boolean }> {
  return db.withTransaction((client) => addDomainIn(db, client, customerId, domain));
}

/** addDomain in the caller's transaction (a journaled step commits with it). */
export async function addDomainIn(db: AdminDb, client: pg.PoolClient, customerId: string, domain: string): Promise<{ changed: boolean }> {
  {
    const tenant = await client.query('SELECT status FROM admin_customers WHERE id = $1', [customerId]);
    if (!tenant.rows[0] || tenant.rows[0].status === 'deprovisioned') throw new TenantctlError('notFound', `no tenant ${customerId} (or it is deprovisioned)`);
    const inserted = await client.query(
      'INSERT INTO admin_customer_domains (domain, customer_id) VALUES ($1, $2) ON CONFLICT (domain) DO NOTHING RETURNING domain',
      [domain, customerId],
    );
    if (inserted.rowCount === 0) {
      const owner = (await client.query('SELECT customer_id FROM admin_customer_domains WHERE domain = $1', [domain])).rows[0]?.customer_id;
      if (owner === customerId) return { changed: false };
      throw new TenantctlError('conflict', `domain ${domain} belongs to tenant ${owner}; remove it there first (tenantctl domains remove ${owner} ${domain})`);
    }
    await recordAudit(db, client, customerId, 'domain.added', null, { domain });
    return { changed: true };
  }
}

/** The tenant a domain belongs to, if any. */
export async function domainOwner(db: AdminDb, domain: string): Promise<string | undefined> {
  const { rows } = await db.pool.query('SELECT customer_id FROM admin_customer_domains WHERE domain = $1', [domain]).catch(db.unreachable);
  return rows[0]?.customer_id;
}

export async function removeDomain(db: AdminDb, customerId: string, domain: string): Promise<{ changed: boolean }> {
  return db.withTransaction(async (client) => {
    const deleted = await client.query('DELETE FROM admin_customer_domains WHERE domain = $1 AND customer_id = $2 RETURNING domain', [domain, customerId]);
    if (deleted.rowCount === 0) {
      const exists = (await client.query('SELECT 1 FROM admin_customers WHERE id = $1', [customerId])).rows.length > 0;
      if (!exists) throw new TenantctlError('notFound', `no tenant ${customerId}`);
      return { changed: false };
    }
    await recordAudit(db, client, customerId, 'domain.removed', { domain }, null);
    return { changed: true };
  });
}

export type RegistryRoute = Omit<RouteInput, 'snippet' | 'domains' | 'publishedAddress' | 'publicPaths'> & { domains: string[]; host: string; template: string };

/** Every tenant the registry holds that is not deprovisioned, on whichever Docker host, with its host and domains. */
export async function loadRoutes(db: AdminDb): Promise<RegistryRoute[]> {
  const { rows } = await db.pool.query(
    `SELECT c.id, c.plan, c.status, c.suspension_reason, c.suspension_public_message, c.app_port, c.host, c.template,
            COALESCE(array_agg(d.domain ORDER BY d.domain) FILTER (WHERE d.domain IS NOT NULL), '{}') AS domains
       FROM admin_customers c LEFT JOIN admin_customer_domains d ON d.customer_id = c.id
      WHERE c.status <> 'deprovisioned'
      GROUP BY c.id ORDER BY c.id`,
  ).catch(db.unreachable);
  return rows.map((r: any) => ({ id: r.id, plan: r.plan, status: r.status, suspensionReason: r.suspension_reason ?? null, suspensionMessage: r.suspension_public_message ?? null, appPort: r.app_port, host: r.host, template: r.template, domains: r.domains as string[] }));
}
