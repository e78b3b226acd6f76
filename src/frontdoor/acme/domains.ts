import { TenantctlError } from '../../common/errors.js';
import type { AdminDb } from '../../admin-db/database.js';
import type { Context } from '../../context.js';
import type { FrontdoorLayout } from '../layout.js';
import { openAccount } from './client.js';
import { installedCertificate, removeCertificate, type Target } from './certificates.js';
import { issuedRecord, obtainAndInstall, serialOf } from './issue.js';
import { recordIssued } from './records.js';
import { requireReachable } from './reachability.js';

// `domains add <id> <domain>` on an ACME door, without --cert: the domain's certificate is obtained
// before the domain is recorded, so a domain that fails (DNS elsewhere, port 80 unreachable, the
// CA's refusal: exit 12) leaves nothing behind and nothing serving. Each step is invisible until the
// domain's row is committed (the door serves only recorded domains): a run killed in between leaves
// at most certificate files nobody serves, which the next `domains add` reuses.

export interface DomainCertificate {
  hostname: string;
  notAfter: string;
  /** Obtained now (false: a valid one was already installed, from an earlier interrupted add). */
  obtained: boolean;
}

/** Checks that `domain` reaches this door, then obtains and installs its certificate. Records nothing yet (see recordDomainCertificate). */
export async function obtainDomainCertificate(ctx: Context, layout: FrontdoorLayout, customerId: string, domain: string, steps: { reachable?: () => Promise<void>; issued?: () => Promise<void> } = {}): Promise<DomainCertificate> {
  const installed = await installedCertificate(layout, domain);
  if (installed && Date.parse(installed.notAfter) > Date.now() + 86_400_000 && installed.names.includes(domain)) {
    await steps.issued?.();
    return { hostname: domain, notAfter: installed.notAfter, obtained: false };
  }
  ctx.reporter.step(`checking that ${domain} reaches this front door`);
  await requireReachable(ctx.config.frontdoor, layout, domain, ctx.signal);
  await steps.reachable?.();
  await ctx.pause('acme.reachable');
  ctx.reporter.step(`obtaining a certificate for ${domain} from ${ctx.config.frontdoor.acme.directory}`);
  const account = await openAccount(ctx.config.frontdoor.acme, layout);
  const info = await obtainAndInstall(ctx, layout, account, target(customerId, domain));
  ctx.reporter.end();
  await steps.issued?.();
  await ctx.pause('acme.installed');
  return { hostname: domain, notAfter: info.notAfter, obtained: true };
}

const target = (customerId: string, domain: string): Target => ({ hostname: domain, customerId, kind: 'domain', names: [domain] });

/** Once the domain is recorded: its certificate on record (audited). */
export async function recordDomainCertificate(db: AdminDb, layout: FrontdoorLayout, customerId: string, domain: string): Promise<void> {
  const info = await installedCertificate(layout, domain);
  if (!info) throw new TenantctlError('certificate', `the certificate of ${domain} disappeared from ${layout.acmeCertsDir}`);
  await recordIssued(db, issuedRecord(target(customerId, domain), info, await serialOf(layout, domain)));
}

/** The domain could not be recorded (another tenant's, say): its fresh certificate goes too. */
export async function discardDomainCertificate(layout: FrontdoorLayout, domain: string): Promise<void> {
  await removeCertificate(layout, domain);
}
