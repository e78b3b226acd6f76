import type { AdminDb } from '../../admin-db/database.js';
import { recordAudit } from '../../audit/write.js';

// admin_certificates (migration 021): what each ACME certificate says and how its last attempt went.
// Every change is audited with the tenant it serves.

export type CertificateKind = 'tenant' | 'domain' | 'wildcard';

export interface CertificateRecord {
  hostname: string;
  customerId: string | null;
  kind: CertificateKind;
  names: string[];
  notBefore: string | null;
  notAfter: string | null;
  issuer: string | null;
  serial: string | null;
  issuedAt: string | null;
  lastAttemptAt: string | null;
  lastError: string | null;
  failures: number;
  nextAttemptAt: string | null;
  revokedAt: string | null;
}

const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : null);

function fromRow(r: any): CertificateRecord {
  return {
    hostname: r.hostname, customerId: r.customer_id, kind: r.kind, names: r.names,
    notBefore: iso(r.not_before), notAfter: iso(r.not_after), issuer: r.issuer, serial: r.serial, issuedAt: iso(r.issued_at),
    lastAttemptAt: iso(r.last_attempt_at), lastError: r.last_error, failures: r.failures, nextAttemptAt: iso(r.next_attempt_at), revokedAt: iso(r.revoked_at),
  };
}

export async function listCertificates(db: AdminDb, { revoked = false } = {}): Promise<CertificateRecord[]> {
  const { rows } = await db.pool.query(`SELECT * FROM admin_certificates ${revoked ? '' : 'WHERE revoked_at IS NULL'} ORDER BY hostname`).catch(db.unreachable);
  return rows.map(fromRow);
}

export async function getCertificate(db: AdminDb, hostname: string): Promise<CertificateRecord | undefined> {
  const { rows } = await db.pool.query('SELECT * FROM admin_certificates WHERE hostname = $1', [hostname]).catch(db.unreachable);
  return rows[0] ? fromRow(rows[0]) : undefined;
}

export interface Issued {
  hostname: string;
  customerId: string | null;
  kind: CertificateKind;
  names: string[];
  notBefore: string;
  notAfter: string;
  issuer: string;
  serial: string;
}

/** A certificate obtained: its row says what it is, its error and backoff are cleared. Audited (issued, or renewed when one was on record). */
export async function recordIssued(db: AdminDb, issued: Issued): Promise<void> {
  await db.withTransaction(async (client) => {
    const before = await client.query('SELECT serial, not_after, revoked_at FROM admin_certificates WHERE hostname = $1 FOR UPDATE', [issued.hostname]);
    const previous = before.rows[0]?.serial && !before.rows[0].revoked_at ? { serial: before.rows[0].serial, notAfter: iso(before.rows[0].not_after) } : null;
    await client.query(
      `INSERT INTO admin_certificates (hostname, customer_id, kind, names, not_before, not_after, issuer, serial, issued_at, last_attempt_at, last_error, failures, next_attempt_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), now(), NULL, 0, NULL, NULL)
       ON CONFLICT (hostname) DO UPDATE SET customer_id = EXCLUDED.customer_id, kind = EXCLUDED.kind, names = EXCLUDED.names, not_before = EXCLUDED.not_before,
         not_after = EXCLUDED.not_after, issuer = EXCLUDED.issuer, serial = EXCLUDED.serial, issued_at = now(), last_attempt_at = now(), last_error = NULL,
         failures = 0, next_attempt_at = NULL, revoked_at = NULL`,
      [issued.hostname, issued.customerId, issued.kind, issued.names, issued.notBefore, issued.notAfter, issued.issuer, issued.serial],
    );
    await recordAudit(db, client, issued.customerId, previous ? 'certificate.renewed' : 'certificate.issued', previous, { hostname: issued.hostname, names: issued.names, serial: issued.serial, notAfter: issued.notAfter, issuer: issued.issuer });
  });
}

/** A failed attempt: the error, one more failure, and when to try again. Audited. */
export async function recordFailure(db: AdminDb, target: { hostname: string; customerId: string | null; kind: CertificateKind }, error: string, nextAttemptAt: Date): Promise<number> {
  return db.withTransaction(async (client) => {
    const { rows } = await client.query(
      `INSERT INTO admin_certificates (hostname, customer_id, kind, last_attempt_at, last_error, failures, next_attempt_at)
       VALUES ($1, $2, $3, now(), $4, 1, $5)
       ON CONFLICT (hostname) DO UPDATE SET last_attempt_at = now(), last_error = EXCLUDED.last_error, failures = admin_certificates.failures + 1, next_attempt_at = EXCLUDED.next_attempt_at
       RETURNING failures`,
      [target.hostname, target.customerId, target.kind, error, nextAttemptAt],
    );
    await recordAudit(db, client, target.customerId, 'certificate.failed', null, { hostname: target.hostname, error, nextAttemptAt: nextAttemptAt.toISOString() });
    return rows[0].failures as number;
  });
}

/** A certificate revoked at the CA (its name left this door). Audited. */
export async function recordRevoked(db: AdminDb, hostname: string, customerId: string | null, serial: string | null): Promise<void> {
  await db.withTransaction(async (client) => {
    await client.query('UPDATE admin_certificates SET revoked_at = now(), last_error = NULL, next_attempt_at = NULL WHERE hostname = $1', [hostname]);
    await recordAudit(db, client, customerId, 'certificate.revoked', { hostname, serial }, null);
  });
}

/** The revocation failed: kept on record (revoked_at NULL) with its error, so `frontdoor renew` tries again. */
export async function recordRevocationFailure(db: AdminDb, hostname: string, error: string): Promise<void> {
  await db.pool.query('UPDATE admin_certificates SET last_error = $2, last_attempt_at = now() WHERE hostname = $1', [hostname, `revocation: ${error}`]).catch(db.unreachable);
}
