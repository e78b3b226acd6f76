import { readFile } from 'node:fs/promises';
import { messageOf } from '../../common/errors.js';
import type { AdminDb } from '../../admin-db/database.js';
import type { Context } from '../../context.js';
import type { FrontdoorLayout } from '../layout.js';
import { openAccount, revokeCertificate, type AcmeAccount } from './client.js';
import { certificateFile, removeCertificate } from './certificates.js';
import { getCertificate, listCertificates, recordRevocationFailure, recordRevoked } from './records.js';

// A custom domain that leaves the door (domains remove) has its certificate revoked at the CA and
// its files deleted: nobody should hold a valid certificate for a customer's name we no longer serve.

/** Revokes `hostname`'s ACME certificate and deletes its files. Throws (exit 12) when the CA refuses; the record keeps the error. */
export async function revokeAndForget(ctx: Context, db: AdminDb, layout: FrontdoorLayout, hostname: string, account?: AcmeAccount): Promise<boolean> {
  const cert = await readFile(certificateFile(layout, hostname), 'utf8').catch(() => undefined);
  const record = await getCertificate(db, hostname);
  if (!cert) {
    if (record && !record.revokedAt) await recordRevoked(db, hostname, record.customerId, record.serial);
    return false;
  }
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
 * Custom-domain certificates on record (not revoked) whose domain no longer reaches this door's
 * registry (a `domains remove` interrupted before it revoked): revoked now. Failures stay on record.
 */
export async function revokeRemoved(ctx: Context, db: AdminDb, layout: FrontdoorLayout, wanted: ReadonlySet<string>): Promise<string[]> {
  const revoked: string[] = [];
  for (const record of await listCertificates(db)) {
    if (record.kind !== 'domain' || wanted.has(record.hostname) || record.serial === null) continue;
    try {
      if (await revokeAndForget(ctx, db, layout, record.hostname)) revoked.push(record.hostname);
    } catch (error) {
      ctx.reporter.info(`warning: could not revoke the certificate of ${record.hostname}: ${messageOf(error)}`);
    }
  }
  return revoked;
}
