import { messageOf } from '../../common/errors.js';
import type { AdminDb } from '../../admin-db/database.js';
import type { Context } from '../../context.js';
import type { FrontdoorLayout } from '../layout.js';
import { openAccount, revokeCertificate, type AcmeAccount } from './client.js';
import { installedChain, removeCertificate } from './certificates.js';
import { getCertificate, listCertificates, recordRevocationFailure, recordRevoked } from './records.js';

// A custom domain that leaves the door (domains remove), or a tenant deprovisioned, has its
// certificate revoked at the CA and its files deleted: nobody should hold a valid certificate for a
// name we no longer serve.

/** Revokes `hostname`'s ACME certificate and deletes its files. Throws (exit 12) when the CA refuses; the record keeps the error. */
export async function revokeAndForget(ctx: Context, db: AdminDb, layout: FrontdoorLayout, hostname: string, account?: AcmeAccount): Promise<boolean> {
  const cert = await installedChain(layout, hostname);
  // No certificate here: nothing reached the CA, so nothing is recorded as revoked. The record may
  // be another door's sharing this admin database (which holds the file and revokes it itself).
  if (!cert) return false;
  const record = await getCertificate(db, hostname);
  try {
    await revokeCertificate(account ?? (await openAccount(ctx.config.frontdoor.acme, layout)), hostname, cert);
  } catch (error) {
    // Already revoked (an earlier attempt got through before it was recorded): done.
    if (!/alreadyRevoked|already revoked/i.test(messageOf(error))) {
      await recordRevocationFailure(db, hostname, messageOf(error));
      throw error;
    }
  }
  await recordRevoked(db, hostname, record?.customerId ?? null, record?.serial ?? null);
  await removeCertificate(layout, hostname);
  return true;
}


/**
 * Certificates on record (not revoked) of names this door no longer serves: a custom domain removed
 * (a `domains remove` interrupted before it revoked), a deprovisioned tenant's <id>.<baseDomain>.
 * Revoked now (`kinds`: which of them). Failures stay on record.
 */
export async function revokeRemoved(ctx: Context, db: AdminDb, layout: FrontdoorLayout, wantedNow: () => Promise<ReadonlySet<string>>, kinds: readonly string[] = ['domain']): Promise<string[]> {
  const revoked: string[] = [];
  // The names kept are read after the records: a domain's certificate is recorded after its row, so
  // a record listed here has its name in `wanted` (read the other way round, a domain added in
  // between would have its fresh certificate revoked).
  const records = await listCertificates(db);
  const wanted = await wantedNow();
  for (const record of records) {
    if (!kinds.includes(record.kind) || wanted.has(record.hostname) || record.serial === null) continue;
    try {
      if (await revokeAndForget(ctx, db, layout, record.hostname)) revoked.push(record.hostname);
    } catch (error) {
      ctx.reporter.info(`warning: could not revoke the certificate of ${record.hostname}: ${messageOf(error)}`);
    }
  }
  return revoked;
}

/**
 * After a sync of an ACME door: the certificates of deprovisioned tenants (their <id>.<baseDomain>
 * and their custom domains), which the door has just stopped serving, are revoked (the door never
 * serves a revoked certificate). A removed domain's is revoked by `domains remove` itself. Under the issuance lock; failures are warnings
 * (kept on record: `frontdoor renew` tries again).
 */
export async function revokeDeprovisioned(ctx: Context, db: AdminDb, layout: FrontdoorLayout): Promise<string[]> {
  const { rows } = await db.pool.query("SELECT c.hostname FROM admin_certificates c JOIN admin_customers t ON t.id = c.customer_id WHERE c.kind IN ('tenant', 'domain') AND c.revoked_at IS NULL AND t.status = 'deprovisioned'").catch(db.unreachable);
  if (rows.length === 0) return [];
  const { lockIssuance } = await import('./certificates.js');
  const release = await lockIssuance(db, ctx.config.frontdoor.project);
  try {
    const gone = new Set(rows.map((r: any) => r.hostname as string));
    const all = await listCertificates(db);
    return await revokeRemoved(ctx, db, layout, async () => new Set(all.map((r) => r.hostname).filter((h) => !gone.has(h))), ['tenant', 'domain']);
  } finally {
    await release();
  }
}
