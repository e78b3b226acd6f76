import { X509Certificate, createPrivateKey } from 'node:crypto';
import { TenantctlError, messageOf } from '../../common/errors.js';
import type { AdminDb } from '../../admin-db/database.js';
import type { Context } from '../../context.js';
import type { FrontdoorLayout } from '../layout.js';
import type { CertificateInfo } from '../tls.js';
import { installCertificate, installedCertificate, installedChain, type Target } from './certificates.js';
import { dnsHookSolver, ensureChallengeDir, httpSolver } from './challenges.js';
import { CaError, obtainCertificate, type AcmeAccount } from './client.js';
import { getCertificate, recordFailure, recordIssued } from './records.js';
import { nextAttemptAfterFailure } from './schedule.js';

// Issuing ACME certificates: a batch (a few at a time), each installed (certificates.ts) and recorded.
// Issuing never reloads nginx: the caller syncs once for the whole batch.

export type IssueOutcome =
  | { hostname: string; ok: true; notAfter: string; renewed: boolean }
  | { hostname: string; ok: false; error: string; nextAttemptAt: string };

/** Orders in flight at once: the CA validates each order's challenges while the others wait. */
const issueConcurrency = 4;

/** Issues one certificate and installs it; throws (CaError: exit 12) when the CA refuses. Records nothing. */
export async function obtainAndInstall(ctx: Context, layout: FrontdoorLayout, account: AcmeAccount, target: Target): Promise<CertificateInfo> {
  await ensureChallengeDir(layout);
  const hook = ctx.config.frontdoor.acme.dnsHook;
  if (target.kind === 'wildcard' && !hook) throw new TenantctlError('usage', `a wildcard certificate (${target.hostname}) needs DNS-01: set frontdoor.acme.dnsHook`);
  const solver = target.kind === 'wildcard' ? dnsHookSolver(ctx.dockerHost, hook!, ctx.signal) : httpSolver(layout);
  const obtained = await obtainCertificate(account, target.names, solver, ctx.signal);
  // The leaf (the chain's first certificate) must be for our key: never install a pair nginx would refuse.
  if (!new X509Certificate(obtained.cert).checkPrivateKey(createPrivateKey(obtained.key))) throw new TenantctlError('certificate', `the ACME server sent a certificate for ${target.hostname} that does not match its key`);
  await installCertificate(layout, target.hostname, obtained);
  return (await installedCertificate(layout, target.hostname))!;
}

export function issuedRecord(target: Target, info: CertificateInfo, serial: string) {
  return { hostname: target.hostname, customerId: target.customerId, kind: target.kind, names: info.names, notBefore: info.notBefore, notAfter: info.notAfter, issuer: info.issuer, serial };
}

export async function serialOf(layout: FrontdoorLayout, hostname: string): Promise<string> {
  const chain = await installedChain(layout, hostname);
  if (!chain) throw new TenantctlError('frontdoor', `no certificate is installed for ${hostname}`);
  return new X509Certificate(chain).serialNumber;
}

/** Issues for each target (a few at a time), recording each success or failure (with its backoff); never throws for one name's failure. */
export async function issueBatch(ctx: Context, db: AdminDb, layout: FrontdoorLayout, account: AcmeAccount, targets: readonly Target[]): Promise<IssueOutcome[]> {
  const outcomes: IssueOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      if (ctx.signal.aborted) throw new TenantctlError('interrupted', 'interrupted while issuing certificates');
      const target = targets[next++]!;
      ctx.reporter.detail(`ACME: a certificate for ${target.hostname}`);
      const hadOne = (await installedCertificate(layout, target.hostname)) !== undefined;
      try {
        const info = await obtainAndInstall(ctx, layout, account, target);
        await recordIssued(db, issuedRecord(target, info, await serialOf(layout, target.hostname)));
        outcomes.push({ hostname: target.hostname, ok: true, notAfter: info.notAfter, renewed: hadOne });
      } catch (error) {
        if (error instanceof TenantctlError && error.kind === 'interrupted') throw error;
        const retryAfter = error instanceof CaError ? error.problem?.retryAfterSeconds : undefined;
        const failures = ((await getCertificate(db, target.hostname))?.failures ?? 0) + 1;
        const nextAttemptAt = nextAttemptAfterFailure(failures, new Date(), retryAfter);
        await recordFailure(db, target, messageOf(error), nextAttemptAt);
        outcomes.push({ hostname: target.hostname, ok: false, error: messageOf(error), nextAttemptAt: nextAttemptAt.toISOString() });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(issueConcurrency, targets.length) }, worker));
  return outcomes;
}

