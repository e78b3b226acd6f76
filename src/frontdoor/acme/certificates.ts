import path from 'node:path';
import { readFile, rename, rm } from 'node:fs/promises';
import { TenantctlError } from '../../common/errors.js';
import { ensurePrivateDir, writePrivateFile } from '../../common/private-files.js';
import { frontdoorLockWaitMs } from '../../common/timeouts.js';
import { ignoreFailure } from '../../common/ignore-failure.js';
import { holdSessionLock } from '../../admin-db/session-lock.js';
import type { AdminDb } from '../../admin-db/database.js';
import type { Context } from '../../context.js';
import { servedRoutes } from '../fleet-routes.js';
import type { FrontdoorLayout } from '../layout.js';
import { routeKind } from '../render.js';
import { describeCertificate, type CertificateInfo } from '../tls.js';
import type { CertificateKind } from './records.js';

// Which names of this door take an ACME certificate, where each one's files are (0600 under
// <stateDir>/frontdoor/acme/certs/), and the lock one issuing process holds. No ACME client here:
// `frontdoor status` reads these without loading it.

/** The advisory lock space of ACME issuance (sync.ts uses 11 for reloads). */
const acmeLockSpace = 12;

export interface Target {
  hostname: string;
  customerId: string | null;
  kind: CertificateKind;
  names: string[];
}

/** A host name's file name: the wildcard's `*` never becomes part of a path (*.example.com -> wildcard.example.com). */
const fileBase = (hostname: string) => hostname.replace(/^\*\./, 'wildcard.');
export const certificateFile = (layout: FrontdoorLayout, hostname: string) => path.join(layout.acmeCertsDir, `${fileBase(hostname)}.crt`);
export const keyFile = (layout: FrontdoorLayout, hostname: string) => path.join(layout.acmeCertsDir, `${fileBase(hostname)}.key`);
/** The chain and the key in one file: what nginx reads (render-acme.ts certificateLines), replaced by one rename. */
export const pemFile = (layout: FrontdoorLayout, hostname: string) => path.join(layout.acmeCertsDir, `${fileBase(hostname)}.pem`);
/** The DNS-01 wildcard's host name (frontdoor.acme.dnsHook): one certificate for every <id>.<baseDomain>. */
export const wildcardHostname = (baseDomain: string) => `*.${baseDomain}`;

/**
 * The ACME certificate installed for `hostname`, if any (unreadable counts as none). Read from the
 * combined PEM, the file nginx serves: a run killed between installing the .crt and the .pem must
 * not make the old served certificate look renewed. The .crt only when there is no .pem yet (a
 * certificate installed by an older tenantctl; ensureCombined makes its .pem).
 */
export async function installedCertificate(layout: FrontdoorLayout, hostname: string): Promise<CertificateInfo | undefined> {
  return describeCertificate(pemFile(layout, hostname)).catch(() => describeCertificate(certificateFile(layout, hostname))).catch(ignoreFailure('neither file holds a certificate: none installed'));
}

/** The installed certificate with its chain (PEM, no key), from the served .pem as installedCertificate; undefined when none. */
export async function installedChain(layout: FrontdoorLayout, hostname: string): Promise<string | undefined> {
  const pem = await readFile(pemFile(layout, hostname), 'utf8').catch(ignoreFailure('no .pem (yet): the .crt is read below'));
  const blocks = pem?.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (blocks && blocks.length > 0) return `${blocks.join('\n')}\n`;
  return readFile(certificateFile(layout, hostname), 'utf8').catch(ignoreFailure('no certificate file: none installed'));
}

/**
 * Every name this door serves that takes an ACME certificate: each tenant's <id>.<baseDomain> (or,
 * with frontdoor.acme.dnsHook, one DNS-01 wildcard for all of them), and custom domains without an
 * operator's certificate.
 */
export async function wantedTargets(ctx: Context, db: AdminDb, layout: FrontdoorLayout): Promise<Target[]> {
  const base = ctx.config.frontdoor.baseDomain;
  const wildcard = ctx.config.frontdoor.acme.dnsHook !== undefined;
  const targets: Target[] = wildcard ? [{ hostname: wildcardHostname(base), customerId: null, kind: 'wildcard', names: [wildcardHostname(base), base] }] : [];
  for (const route of await servedRoutes(ctx, db)) {
    if (routeKind(route) === 'none') continue;
    const hostname = `${route.id}.${base}`;
    if (!wildcard) targets.push({ hostname, customerId: route.id, kind: 'tenant', names: [hostname] });
    for (const domain of route.domains) {
      const operators = await readFile(path.join(layout.domainsDir, `${domain}.crt`)).then(() => true, () => false);
      if (!operators) targets.push({ hostname: domain, customerId: route.id, kind: 'domain', names: [domain] });
    }
  }
  return targets;
}

/**
 * Writes the certificate (with its chain) and its key, all 0600, each atomically; the combined PEM
 * nginx reads goes last, so nginx never sees a certificate whose key is not yet there.
 */
export async function installCertificate(layout: FrontdoorLayout, hostname: string, pair: { cert: string; key: string }): Promise<void> {
  await ensurePrivateDir(layout.acmeCertsDir);
  await writePrivateFile(`${keyFile(layout, hostname)}.tmp`, pair.key);
  await writePrivateFile(`${certificateFile(layout, hostname)}.tmp`, pair.cert);
  await rename(`${keyFile(layout, hostname)}.tmp`, keyFile(layout, hostname));
  await rename(`${certificateFile(layout, hostname)}.tmp`, certificateFile(layout, hostname));
  await writeCombined(layout, hostname, pair);
}

async function writeCombined(layout: FrontdoorLayout, hostname: string, pair: { cert: string; key: string }): Promise<void> {
  const combined = `${pair.cert.trimEnd()}\n${pair.key.trimEnd()}\n`;
  await writePrivateFile(`${pemFile(layout, hostname)}.tmp`, combined);
  await rename(`${pemFile(layout, hostname)}.tmp`, pemFile(layout, hostname));
}

/**
 * The combined PEM of an installed certificate, made from its .crt and .key when a certificate was
 * installed before there was one (an older tenantctl). Its content (for the door's digest), or
 * undefined when nothing is installed.
 */
export async function ensureCombined(layout: FrontdoorLayout, hostname: string): Promise<Buffer | undefined> {
  const pem = await readFile(pemFile(layout, hostname)).catch(ignoreFailure('no .pem yet: made below from the .crt and key'));
  if (pem) return pem;
  const cert = await readFile(certificateFile(layout, hostname), 'utf8').catch(ignoreFailure('no certificate: nothing installed'));
  const key = await readFile(keyFile(layout, hostname), 'utf8').catch(ignoreFailure('no key: nothing installed'));
  if (!cert || !key) return undefined;
  await writeCombined(layout, hostname, { cert, key });
  return readFile(pemFile(layout, hostname));
}

export async function removeCertificate(layout: FrontdoorLayout, hostname: string): Promise<void> {
  // The combined file first: what nginx reads goes before the parts it is made of.
  await rm(pemFile(layout, hostname), { force: true });
  await rm(certificateFile(layout, hostname), { force: true });
  await rm(keyFile(layout, hostname), { force: true });
}

/**
 * Holds the door's ACME issuance lock (one process issues at a time, so two syncs do not order the
 * same names twice) until released.
 */
export async function lockIssuance(db: AdminDb, project: string): Promise<() => Promise<void>> {
  return holdSessionLock(db, acmeLockSpace, project, {
    waitMs: frontdoorLockWaitMs,
    busy: () => new TenantctlError('conflict', `another tenantctl process has been issuing certificates for ${frontdoorLockWaitMs / 1000} s; try again`),
  });
}
