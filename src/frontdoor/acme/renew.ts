import { access } from 'node:fs/promises';
import path from 'node:path';
import { BatchFailure, messageOf } from '../../common/errors.js';
import type { AdminDb } from '../../admin-db/database.js';
import type { Context } from '../../context.js';
import { loadRoutes } from '../domains.js';
import { frontdoorLayout, readState, type FrontdoorLayout } from '../layout.js';
import { syncFrontdoor, type SyncResult } from '../sync.js';
import { TenantctlError } from '../../common/errors.js';
import { openAccount } from './client.js';
import { installedCertificate, lockIssuance, wantedTargets, type Target } from './certificates.js';
import { issueBatch, issuedRecord, serialOf, type IssueOutcome } from './issue.js';
import { listCertificates, recordIssued } from './records.js';
import { revokeRemoved } from './revoke.js';
import { renewAt } from './schedule.js';

// `tenantctl frontdoor renew`, and what the agent runs on a schedule (renewCertificates): renews
// every ACME certificate with a third of its lifetime (less a stable per-name jitter) left, issues
// the missing ones whose backoff is over, revokes certificates of names that left the door, then
// reloads the door once for all of them.
//
// The agent runs it in place (inPlace): it sees only the ACME folder's certificates and challenges
// (read-write) and the account's files (read-only), not the door's configuration. It renews the
// certificates installed there for names the registry still has (the names the door already serves
// from that folder), and reloads nginx without rendering (reload-in-place.ts) for those renewed and
// for any it still serves an older certificate of. It revokes nothing: a name gone from the registry
// may still be in the live configuration (its door sync failed or was killed), whose nginx -t would
// then fail; the host's door sync revokes what it stops serving. A name with no certificate yet, or
// the DNS-01 wildcard (its hook runs on the host), is left to the next `frontdoor renew` or tenant
// command on the host, which renders it into a new generation.

export interface RenewResult {
  checked: number;
  renewed: string[];
  issued: string[];
  failed: { hostname: string; error: string; nextAttemptAt: string }[];
  /** Not due yet, or waiting for their backoff after a failure. */
  skipped: { hostname: string; reason: string; at: string }[];
  revoked: string[];
  /** The sync after the batch (absent when nothing changed). */
  sync?: Pick<SyncResult, 'generation' | 'changed'>;
  durationMs: number;
}

/** The certificates the agent renews in place: on record, not revoked, installed in the ACME folder; tenants' and custom domains'. */
async function installedTargets(ctx: Context, db: AdminDb, layout: FrontdoorLayout): Promise<{ targets: Target[]; left: RenewResult['skipped'] }> {
  const targets: Target[] = [];
  const left: RenewResult['skipped'] = [];
  const now = new Date().toISOString();
  const records = await listCertificates(db);
  // Read after the records (a domain's certificate is recorded after its row): a record listed whose name is not here has left the registry.
  const registered = await registeredNames(ctx, db);
  for (const r of records) {
    if (r.kind !== 'wildcard' && !registered.has(r.hostname)) {
      left.push({ hostname: r.hostname, reason: 'left the registry: not renewed; revoked once the door stops serving it (the next door sync on the host)', at: now });
    } else if (r.kind === 'wildcard') {
      left.push({ hostname: r.hostname, reason: 'the DNS-01 wildcard is renewed by frontdoor renew on the host (its DNS hook runs there)', at: now });
    } else if (!(await installedCertificate(layout, r.hostname))) {
      left.push({ hostname: r.hostname, reason: 'not issued yet: the next frontdoor renew or tenant command on the host issues it', at: now });
    } else {
      targets.push({ hostname: r.hostname, customerId: r.customerId, kind: r.kind, names: r.names.length > 0 ? r.names : [r.hostname] });
    }
  }
  return { targets, left };
}

/** Every name the registry still has (tenants not deprovisioned, their domains): the only ones the agent renews. */
async function registeredNames(ctx: Context, db: AdminDb): Promise<Set<string>> {
  const names = new Set<string>();
  for (const route of await loadRoutes(db)) {
    names.add(`${route.id}.${ctx.config.frontdoor.baseDomain}`);
    for (const domain of route.domains) names.add(domain);
  }
  return names;
}

export async function renewCertificates(ctx: Context, options: { force?: boolean; inPlace?: boolean } = {}): Promise<RenewResult> {
  const started = Date.now();
  const layout = frontdoorLayout(ctx.config);
  if (options.inPlace) {
    const accountKey = path.join(layout.acmeDir, 'account.key');
    await access(accountKey).catch(() => {
      throw new TenantctlError('usage', `the ACME account key ${accountKey} is not here: the agent renews only for a door set up with frontdoor init --acme (run tenantctl agent up after it)`);
    });
  } else {
    const state = await readState(layout);
    if (state?.tls !== 'acme') throw new TenantctlError('usage', 'the front door does not get certificates by ACME here: run `tenantctl frontdoor init --acme`');
  }
  const db = await ctx.adminDb();
  const release = await lockIssuance(db, ctx.config.frontdoor.project);
  let outcomes: IssueOutcome[] = [];
  const skipped: RenewResult['skipped'] = [];
  let revoked: string[] = [];
  let checked = 0;
  /** In place: the installed names (renewal candidates), checked against what nginx presents after the batch. */
  let installedNames: string[] = [];
  try {
    const now = new Date();
    const records = new Map((await listCertificates(db)).map((r) => [r.hostname, r]));
    const due: Target[] = [];
    const candidates = options.inPlace ? await installedTargets(ctx, db, layout) : { targets: await wantedTargets(ctx, db, layout), left: [] };
    skipped.push(...candidates.left);
    installedNames = candidates.targets.map((t) => t.hostname);
    for (const target of candidates.targets) {
      checked++;
      const installed = await installedCertificate(layout, target.hostname);
      const backoff = records.get(target.hostname)?.nextAttemptAt;
      if (!options.force && backoff && Date.parse(backoff) > now.getTime()) {
        skipped.push({ hostname: target.hostname, reason: 'backoff after a failure', at: backoff });
        continue;
      }
      if (installed && !options.force) {
        const at = renewAt(target.hostname, new Date(installed.notBefore), new Date(installed.notAfter));
        if (at.getTime() > now.getTime()) {
          skipped.push({ hostname: target.hostname, reason: 'not due', at: at.toISOString() });
          // A certificate installed by a run killed before it was recorded: on record now.
          const serial = await serialOf(layout, target.hostname);
          if (records.get(target.hostname)?.serial !== serial) await recordIssued(db, issuedRecord(target, installed, serial));
          continue;
        }
      }
      due.push(target);
    }
    if (due.length > 0) outcomes = await issueBatch(ctx, db, layout, await openAccount(ctx.config.frontdoor.acme, layout), due);
    // Not in place: nginx may still serve a name the registry lost (a deprovision whose door sync
    // failed or was killed), and revoking it would make the live configuration's nginx -t fail. The
    // host's door sync revokes those it has stopped serving (revokeDeprovisioned); here, on the
    // host, only removed domains' whose revocation failed (the door no longer serves them).
    if (!options.inPlace) revoked = await revokeRemoved(ctx, db, layout, async () => new Set((await wantedTargets(ctx, db, layout)).map((t) => t.hostname)));
  } finally {
    await release();
  }
  // One reload for the whole batch; nothing obtained, nothing to reload.
  let sync: RenewResult['sync'];
  const obtained = outcomes.flatMap((o) => (o.ok ? [o.hostname] : []));
  if (options.inPlace) {
    // Also every installed name nginx still serves with an older certificate (a renewal whose
    // reload was killed or refused): reloaded now, not left until the certificate expires.
    const { notTakenUp, reloadInPlace } = await import('./reload-in-place.js');
    const toReload = [...obtained, ...(await notTakenUp(ctx, installedNames.filter((n) => !obtained.includes(n))))];
    if (toReload.length > 0) {
      try {
        await reloadInPlace(ctx, toReload);
      } catch (error) {
        throw new TenantctlError('frontdoor', `certificates were renewed but the front door did not take them up: ${messageOf(error)}; the next run, or tenantctl frontdoor reload on the host, retries`, { cause: error });
      }
    }
  } else if (obtained.length > 0) {
    try {
      const result = await syncFrontdoor(ctx);
      sync = { generation: result.generation, changed: result.changed };
    } catch (error) {
      throw new TenantctlError('frontdoor', `certificates were renewed but the front door did not take them up: ${messageOf(error)}; tenantctl frontdoor reload retries`, { cause: error });
    }
  }
  const result: RenewResult = {
    checked,
    renewed: outcomes.flatMap((o) => (o.ok && o.renewed ? [o.hostname] : [])),
    issued: outcomes.flatMap((o) => (o.ok && !o.renewed ? [o.hostname] : [])),
    failed: outcomes.flatMap((o) => (o.ok ? [] : [{ hostname: o.hostname, error: o.error, nextAttemptAt: o.nextAttemptAt }])),
    skipped,
    revoked,
    sync,
    durationMs: Date.now() - started,
  };
  if (result.failed.length > 0) throw new BatchFailure(result, `${result.failed.length} certificate(s) not renewed: ${result.failed.map((f) => `${f.hostname}: ${f.error}`).join('; ')}`);
  return result;
}
