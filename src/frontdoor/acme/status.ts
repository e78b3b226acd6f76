import type { AdminDb } from '../../admin-db/database.js';
import type { FrontdoorLayout } from '../layout.js';
import { installedCertificate } from './certificates.js';
import { listCertificates } from './records.js';
import { renewAt } from './schedule.js';

// What `frontdoor status` says of each ACME certificate: the record, what is installed, when it renews.

export interface AcmeCertificateStatus {
  hostname: string;
  tenant: string | null;
  kind: string;
  names: string[];
  issuer: string | null;
  notAfter: string | null;
  daysLeft: number | null;
  renewAt: string | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  installed: boolean;
}

export async function acmeCertificateStatus(db: AdminDb, layout: FrontdoorLayout, now = Date.now()): Promise<AcmeCertificateStatus[]> {
  const out: AcmeCertificateStatus[] = [];
  for (const r of await listCertificates(db)) {
    const installed = await installedCertificate(layout, r.hostname);
    const notAfter = installed?.notAfter ?? r.notAfter;
    const notBefore = installed?.notBefore ?? r.notBefore;
    out.push({
      hostname: r.hostname,
      tenant: r.customerId,
      kind: r.kind,
      names: installed?.names ?? r.names,
      issuer: installed?.issuer ?? r.issuer,
      notAfter,
      daysLeft: notAfter ? Math.floor((Date.parse(notAfter) - now) / 86_400_000) : null,
      renewAt: notAfter && notBefore ? renewAt(r.hostname, new Date(notBefore), new Date(notAfter)).toISOString() : null,
      lastError: r.lastError,
      nextAttemptAt: r.nextAttemptAt,
      installed: installed !== undefined,
    });
  }
  return out;
}
