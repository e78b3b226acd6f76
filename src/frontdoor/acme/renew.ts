import { BatchFailure, messageOf } from '../../common/errors.js';
import type { Context } from '../../context.js';
import { frontdoorLayout, readState } from '../layout.js';
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

export async function renewCertificates(ctx: Context, options: { force?: boolean } = {}): Promise<RenewResult> {
  const started = Date.now();
  const layout = frontdoorLayout(ctx.config);
  const state = await readState(layout);
  if (state?.tls !== 'acme') throw new TenantctlError('usage', 'the front door does not get certificates by ACME here: run `tenantctl frontdoor init --acme`');
  const db = await ctx.adminDb();
  const release = await lockIssuance(db, ctx.config.frontdoor.project);
  let outcomes: IssueOutcome[] = [];
  const skipped: RenewResult['skipped'] = [];
  let revoked: string[] = [];
  let checked = 0;
  try {
    const now = new Date();
    const records = new Map((await listCertificates(db)).map((r) => [r.hostname, r]));
    const due: Target[] = [];
    for (const target of await wantedTargets(ctx, db, layout)) {
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
    revoked = await revokeRemoved(ctx, db, layout, new Set((await wantedTargets(ctx, db, layout)).map((t) => t.hostname)));
  } finally {
    await release();
  }
  // One reload for the whole batch; nothing obtained, nothing to reload.
  let sync: RenewResult['sync'];
  if (outcomes.some((o) => o.ok)) {
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
