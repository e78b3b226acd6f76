import type { AdminDb } from '../../admin-db/database.js';
import type { Context } from '../../context.js';
import { frontdoorLayout } from '../layout.js';
import { installedCertificate, lockIssuance, wantedTargets } from './certificates.js';
import type { IssueOutcome } from './issue.js';
import { listCertificates } from './records.js';

/**
 * Before a sync of an ACME front door: a certificate for every served name that has none (a new
 * tenant, one whose earlier attempt failed and whose backoff is over) or whose certificate expired.
 * Renewing the ones that are merely due is `frontdoor renew`'s job. Failures are recorded (and shown
 * by `frontdoor status`), never thrown: the name is served with the fallback certificate meanwhile.
 */
export async function ensureAcmeCertificates(ctx: Context, db: AdminDb): Promise<IssueOutcome[]> {
  const layout = frontdoorLayout(ctx.config);
  const release = await lockIssuance(db, ctx.config.frontdoor.project);
  try {
    const now = Date.now();
    const records = new Map((await listCertificates(db)).map((r) => [r.hostname, r]));
    const missing = [];
    for (const target of await wantedTargets(ctx, db, layout)) {
      const installed = await installedCertificate(layout, target.hostname);
      if (installed && Date.parse(installed.notAfter) > now) continue;
      const backoff = records.get(target.hostname)?.nextAttemptAt;
      if (backoff && Date.parse(backoff) > now) continue;
      missing.push(target);
    }
    if (missing.length === 0) return [];
    // The ACME client only now: a sync with nothing to issue does not load it.
    const { openAccount } = await import('./client.js');
    const { issueBatch } = await import('./issue.js');
    return await issueBatch(ctx, db, layout, await openAccount(ctx.config.frontdoor.acme, layout), missing);
  } finally {
    await release();
  }
}
