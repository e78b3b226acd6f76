import type { Context } from '../context.js';
import type { Operation, OperationVerb, SettleOutcome } from '../operations/journal.js';
import { TenantctlError } from '../common/errors.js';

// Every journaled verb's resume, by the verb an operation row names: what settles an operation a
// killed run left (tenants/hold.ts). Loaded only when there is one to settle, like command-table.ts
// loads commands; the CLI is the one layer that may reach every verb's folder.

type Resume = (ctx: Context, op: Operation<any>) => Promise<SettleOutcome>;

const resumes: Record<OperationVerb, () => Promise<Resume>> = {
  restore: async () => (await import('../backups/restore.js')).resumeRestore,
  move: async () => (await import('../hosts/move.js')).resumeMove,
  'rotate-secrets': async () => (await import('../secrets/rotate.js')).resumeRotation,
  upgrade: async () => (await import('../upgrades/upgrade.js')).resumeUpgrade,
  'backup-prune': async () => (await import('../backups/prune.js')).resumePrune,
  'doctor-fix': async () => (await import('../doctor/repair.js')).resumeRepair,
  suspend: async () => (await import('../suspension/suspend.js')).resumeSuspend,
  resume: async () => (await import('../suspension/resume.js')).resumeResume,
  'scheduled-backup': async () => (await import('../schedules/scheduled-backup.js')).resumeScheduledBackup,
  'domains-add': async () => (await import('../frontdoor/acme/domains-add.js')).resumeDomainsAdd,
  'pitr-restore': async () => (await import('../pitr/restore-to-time.js')).resumePitrRestore,
  recover: async () => (await import('../recover/recover-tenant.js')).resumeRecover,
  'pitr-prune': async () => (await import('../pitr/retention.js')).resumePitrPrune,
  'owner-conversion': async () => (await import('../tenants/owner-conversion.js')).resumeOwnerConversion,
};

/** Runs the operation's resume on the Docker host it was recorded on (a move resolves its two hosts itself). */
export async function settleOperation(ctx: Context, op: Operation<any>): Promise<SettleOutcome> {
  const resume = await resumes[op.verb]?.();
  if (!resume) throw new TenantctlError('internal', `no resume for a ${op.verb} operation`);
  const { dockerHostNamed, contextOn } = await import('../hosts/resolve.js');
  const host = await dockerHostNamed(ctx, await ctx.adminDb(), op.host);
  if (!host) throw new TenantctlError('conflict', `the ${op.verb} of ${op.tenant} worked on Docker host ${op.host}, which this environment cannot reach (DOCKER_HOST, TENANTCTL_HOST_ID)`);
  return resume(contextOn(ctx, host), op);
}
