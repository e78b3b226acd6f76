import { TenantctlError, messageOf } from '../../common/errors.js';
import type { Context } from '../../context.js';
import { OperationJournal, type Operation } from '../../operations/journal.js';
import { holdTenant } from '../../tenants/hold.js';
import { addDomainIn, domainOwner } from '../domains.js';
import { frontdoorLayout } from '../layout.js';
import { syncFrontdoor } from '../sync.js';
import { lockIssuance } from './certificates.js';
import { discardDomainCertificate, obtainDomainCertificate, recordDomainCertificate } from './domains.js';

// `domains add <id> <domain>` on an ACME door, without --cert, as a journaled verb (operation
// 'domains-add'), under the tenant's lock from its intent to the door's reload:
//
//   begun      intent recorded (the domain), before the first effect
//   reachable  the domain reaches this door (a token served and fetched over HTTP)   pause acme.reachable
//   issued     its certificate obtained and installed in the ACME folder (not served) pause acme.installed
//   recorded   the domain's row committed with this step: from here the door serves it
//              (the sync writes the door's configuration, pause frontdoor:written, and reloads
//              nginx, pause frontdoor:reloaded)
//   completed  the certificate on record, the door serving the domain with it
//
// Settled by the next command on the tenant (or in-process after Ctrl-C or a failure): before
// `recorded` it is undone (the certificate's files removed: nothing was served, nothing is left);
// from `recorded` it is finished (the certificate recorded, the door synced). Nothing half-configured
// serves: until the row commits the door does not know the domain, after it the next sync serves it
// with its own certificate.

export interface DomainsAddData {
  domain: string;
}

export async function journaledDomainsAdd(ctx: Context, id: string, domain: string): Promise<{ changed: boolean; generation: number | null; warning?: string }> {
  const db = await ctx.adminDb();
  const layout = frontdoorLayout(ctx.config);
  const journal = new OperationJournal(db);
  const release = await holdTenant(ctx, id);
  try {
    const owner = await domainOwner(db, domain);
    if (owner === id) {
      // Already the tenant's: nothing to add; the door is brought in step.
      const synced = await syncFrontdoor(ctx);
      return { changed: false, generation: synced.generation };
    }
    const op = await journal.begin<DomainsAddData>({ tenant: id, verb: 'domains-add', host: ctx.homeHost.id, data: { domain } });
    let changed = false;
    try {
      await obtainDomainCertificate(ctx, layout, id, domain, {
        reachable: () => journal.step(op, 'reachable'),
        issued: () => journal.step(op, 'issued'),
      });
      await journal.step(op, 'recorded', {}, async (client) => {
        ({ changed } = await addDomainIn(db, client, id, domain));
      });
      const { generation, warning } = await finishForward(ctx, op);
      return { changed, generation, warning };
    } catch (error) {
      // Settled now, with a signal of its own (the command's may be aborted), keeping the first cause.
      // No pause points either: a test that stopped the run at one is not waiting for this.
      const settleCtx = { ...ctx, signal: ctx.signal.aborted ? new AbortController().signal : ctx.signal, pause: async () => {} };
      const outcome = await settleDomainsAdd(settleCtx, await journal.reread(op)).catch((settleError: unknown) => {
        ctx.reporter.info(`warning: the interrupted domains add of ${domain} was not settled: ${messageOf(settleError)} (the next command on ${id} settles it)`);
        return undefined;
      });
      if (outcome) ctx.reporter.info(`domains add of ${domain} to ${id}: ${outcome === 'finished' ? 'finished (the domain was recorded before it stopped)' : 'undone (nothing of it is left)'}`);
      throw error;
    }
  } finally {
    await release();
  }
}

/**
 * From `recorded` on: the certificate on record, the door synced (written, reloaded), the operation
 * completed. The domain is the tenant's from `recorded` on, so a door that does not take it up (nginx
 * refusing the tenant's configuration, the sync failing) is a warning, as after any tenant change,
 * and the operation completes anyway: left running, every later command on the tenant would settle
 * it, fail the same way and do nothing. Any later sync (frontdoor reload) serves it. Only an
 * interruption leaves it running (settled in-process, or by the next command). The live generation
 * (null: the door was not updated) and the warning.
 */
async function finishForward(ctx: Context, op: Operation<DomainsAddData>): Promise<{ generation: number | null; warning?: string }> {
  const db = await ctx.adminDb();
  const journal = new OperationJournal(db);
  const layout = frontdoorLayout(ctx.config);
  // Under the issuance lock, as the renewal that reads the records and revokes what is not wanted.
  const release = await lockIssuance(db, ctx.config.frontdoor.project);
  try {
    await recordDomainCertificate(db, layout, op.tenant, op.data.domain);
  } finally {
    await release();
  }
  let outcome: { generation: number | null; warning?: string };
  try {
    const synced = await syncFrontdoor(ctx);
    const refused = synced.refused.find((r) => r.tenant === op.tenant);
    outcome = refused
      ? { generation: synced.generation, warning: `the domain is recorded, but nginx -t refused ${op.tenant}'s new configuration (${refused.reason}); its last good configuration keeps serving; fix it and run tenantctl frontdoor reload` }
      : { generation: synced.generation };
  } catch (error) {
    if (error instanceof TenantctlError && error.kind === 'interrupted') throw error;
    outcome = { generation: null, warning: `the domain is recorded, but the front door was not updated: ${messageOf(error)} (tenantctl frontdoor status; tenantctl frontdoor reload retries)` };
  }
  if (outcome.warning) ctx.reporter.info(`warning: ${outcome.warning}`);
  await journal.finish(op, 'completed');
  return outcome;
}

const recordedSteps = new Set(['recorded']);

/** The resume of a domains-add a killed run left (cli/settle-table.ts), or of one that failed in-process. */
export async function settleDomainsAdd(ctx: Context, op: Operation<DomainsAddData>): Promise<'finished' | 'undone'> {
  if (op.state !== 'running') return op.state === 'completed' ? 'finished' : 'undone';
  const journal = new OperationJournal(await ctx.adminDb());
  if (recordedSteps.has(op.step)) {
    await finishForward(ctx, op);
    return 'finished';
  }
  // Before the row: nothing was served. A certificate obtained for it (installed, maybe not yet
  // stepped) goes with its key; a domain some other add recorded meanwhile keeps its own.
  const owner = await domainOwner(await ctx.adminDb(), op.data.domain);
  if (owner === undefined) await discardDomainCertificate(frontdoorLayout(ctx.config), op.data.domain);
  await journal.finish(op, 'undone', `interrupted at ${op.step}`);
  return 'undone';
}

export const resumeDomainsAdd = settleDomainsAdd;
