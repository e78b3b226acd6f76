import type { Context } from '../context.js';
import { BatchFailure, messageOf } from '../common/errors.js';
import { raiseAlert } from '../alerts/raise.js';
import type { RenewResult } from '../frontdoor/acme/renew.js';

// The agent's certificate renewal (schedule kind 'certificate-renewal'): `frontdoor renew`'s own
// code, in place (src/frontdoor/acme/renew.ts: the agent sees only the ACME folder), then what is
// worth an alert: each renewal the CA refused (certificate.renewal-failed, with the CA's error) and
// each certificate with fewer than agent.certificateExpiryAlertDays left (certificate.expiring),
// raised once per run while it stays so.

export interface Expiring {
  hostname: string;
  tenant: string | null;
  notAfter: string;
  daysLeft: number;
}

/** Certificates whose notAfter is less than `days` away (pure, for unit tests). */
export function expiringCertificates(records: readonly { hostname: string; customerId: string | null; notAfter: string | null }[], now: number, days: number): Expiring[] {
  return records.flatMap((r) => {
    if (!r.notAfter) return [];
    const daysLeft = (Date.parse(r.notAfter) - now) / 86_400_000;
    return daysLeft < days ? [{ hostname: r.hostname, tenant: r.customerId, notAfter: r.notAfter, daysLeft: Math.round(daysLeft * 100) / 100 }] : [];
  });
}

/** As jobs.ts's JobOutcome (not imported: jobs.ts imports this file). */
interface RenewalOutcome { outcome: 'succeeded' | 'failed'; summary: string; error: string | null; interrupted?: boolean; alerted?: boolean }

export async function certificateRenewalJob(ctx: Context, hostId: string): Promise<RenewalOutcome> {
  const { renewCertificates } = await import('../frontdoor/acme/renew.js');
  const { listCertificates } = await import('../frontdoor/acme/records.js');
  let result: RenewResult | undefined;
  let error: string | null = null;
  try {
    result = await renewCertificates(ctx, { inPlace: true });
  } catch (thrown) {
    if (thrown instanceof BatchFailure) result = thrown.result as RenewResult;
    error = messageOf(thrown);
  }
  const alerts: string[] = [];
  const alert = async (event: Parameters<typeof raiseAlert>[1]) => {
    await raiseAlert(ctx, event).catch((raiseError: unknown) => alerts.push(`the ${event.kind} alert of ${String(event.detail?.hostname ?? '')} was not queued: ${messageOf(raiseError)}`));
  };
  for (const failed of result?.failed ?? []) {
    await alert({
      kind: 'certificate.renewal-failed', host: hostId,
      summary: `the certificate of ${failed.hostname} was not renewed: ${failed.error}`,
      detail: { hostname: failed.hostname, error: failed.error, nextAttemptAt: failed.nextAttemptAt },
    });
  }
  // A failure of the whole run (the CA unreachable, the reload refused) names no certificate: one alert.
  if (error && (result?.failed.length ?? 0) === 0) {
    await alert({ kind: 'certificate.renewal-failed', host: hostId, summary: `certificate renewal on ${hostId} failed: ${error}`, detail: { hostname: null, error } });
  }
  const db = await ctx.adminDb();
  const records = await listCertificates(db);
  const expiring = expiringCertificates(records, ctx.clock.now(), ctx.config.agent.certificateExpiryAlertDays);
  for (const e of expiring) {
    await alert({
      kind: 'certificate.expiring', host: hostId, ...(e.tenant ? { tenant: e.tenant } : {}),
      summary: `the certificate of ${e.hostname} expires in ${e.daysLeft} days (${e.notAfter}), below agent.certificateExpiryAlertDays (${ctx.config.agent.certificateExpiryAlertDays})`,
      detail: { hostname: e.hostname, notAfter: e.notAfter, daysLeft: e.daysLeft, thresholdDays: ctx.config.agent.certificateExpiryAlertDays },
    });
  }
  const parts = result
    ? [`${result.checked} checked`, `${result.renewed.length} renewed`, `${result.failed.length} failed`, `${result.revoked.length} revoked`, `${result.skipped.length} skipped`]
    : ['nothing renewed'];
  if (expiring.length) parts.push(`${expiring.length} expiring within ${ctx.config.agent.certificateExpiryAlertDays} days`);
  const errors = [...(error ? [error] : []), ...alerts];
  // A failed run raised its certificate.renewal-failed above (queued, or the error says it was not).
  return { outcome: error ? 'failed' : 'succeeded', summary: `certificates: ${parts.join(', ')}`, error: errors.length ? errors.join('; ') : null, interrupted: ctx.signal.aborted, alerted: error !== null };
}
