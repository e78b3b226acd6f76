import { randomBytes } from 'node:crypto';
import { access as fileAccess } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.js';
import type { DockerHost } from '../engine/docker-host.js';
import { BatchFailure, TenantctlError, messageOf, usageError } from '../common/errors.js';
import { withLockFile } from '../common/lock-file.js';
import { ensurePrivateDir } from '../common/private-files.js';
import { masterKeyFile, openSecretBox } from '../secrets/master-key.js';
import { TenantRegistry } from '../tenants/registry.js';
import { hostNameSchema } from '../hosts/commands.js';
import { parseOrUsage } from '../tenants/input.js';
import { dockerHostNamed } from '../hosts/resolve.js';
import { probeHost } from '../hosts/probe.js';
import { repositoryFor, type AccessInput } from './access.js';
import type { Repository } from '../repository/restic.js';
import { adminSnapshots, type AdminSnapshot } from './restic-admin.js';
import { CutOffSnapshot, adminContents, currentRun, restoreAdminDb, saveRun, type RecoverRun } from './admin-restore.js';
import { recoverTenant, type TenantOutcome } from './recover-tenant.js';
import { repositoryBackups, type TenantBackupSource } from './tenant-backups.js';
import { Placement } from './fit.js';

// `tenantctl recover --repository <url> [--password-file <file>] [--host <name>]`: a lost machine's
// fleet brought back on a new one, from the backup repository and the master key alone.
//   1. the admin database: the local one brought up as tenantctl always does; when it is empty, the
//      newest admin snapshot (or --snapshot) is restored into it in one transaction that records
//      this recovery run (admin-restore.ts); a database that holds tenants and no recovery run is
//      refused (exit 5): recover never overwrites a live registry
//   2. the master key (TENANTCTL_MASTER_KEY or its file) must open the restored database's check
//      value (secrets/master-key.ts): a wrong key stops here (exit 2), before any tenant is touched
//   3. every tenant that was active, stopped or suspended: provisioned on --host (else the host its
//      record names when this environment reaches it, else this environment's host), its newest
//      backup restored and proven ready, its status put back (recover-tenant.ts, journaled per tenant)
//   4. the front door, if the lost machine's served (the snapshot's frontdoor= tag): set up again
// Run again after a kill, it finds its run recorded and goes on: tenants it completed are not
// made twice, one it left half-way is settled (undone, then recovered again) by its lock's holder.

export interface RecoverInput extends AccessInput {
  host?: unknown;
  snapshot?: unknown;
  /** Tenants recovered at once (each its own lock and journal row). */
  concurrency?: unknown;
  /** Where each tenant's newest backup is found (tests; else the repository and the restored admin database's records). */
  backups?: TenantBackupSource;
}

export interface RecoverResult {
  run: string;
  repository: string;
  snapshot: { id: string; time: string; host: string };
  /** restored: by this command; already: by an earlier run of this recovery (resumed). */
  adminDatabase: 'restored' | 'already-restored';
  masterKey: { fingerprint: string };
  tenants: TenantOutcome[];
  recovered: number;
  failed: number;
  frontdoor: { state: 'serving' | 'not-served-before' | 'failed' | 'needs-operator'; detail?: string };
  durationMs: number;
  /** Tenants recovered by this command per minute of its run. */
  tenantsPerMinute: number;
}

const recoverable = ['active', 'stopped', 'suspended'];

export async function recover(ctx: Context, input: RecoverInput): Promise<RecoverResult> {
  const started = ctx.clock.now();
  const repo = await repositoryFor(ctx, input, { adminDbAllowed: false });
  const hostName = input.host === undefined ? undefined : parseOrUsage(hostNameSchema, input.host, '--host');
  const concurrency = input.concurrency === undefined ? 2 : Number(input.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) throw usageError('--concurrency must be a whole number from 1 to 16');
  if (input.snapshot !== undefined && (typeof input.snapshot !== 'string' || !/^[0-9a-f]{8,64}$/.test(input.snapshot))) throw usageError('--snapshot must be a restic snapshot id (8 to 64 hex characters)');
  // The master key first: without it nothing restored could be opened, so nothing is restored.
  if (!ctx.env.TENANTCTL_MASTER_KEY) {
    const file = masterKeyFile(ctx.env, ctx.config.stateDir);
    await fileAccess(file).catch(() => {
      throw usageError(`recover needs the lost machine's master key: set TENANTCTL_MASTER_KEY (or TENANTCTL_MASTER_KEY_FILE, or put it in ${file})`);
    });
  }
  await ensurePrivateDir(ctx.config.stateDir);
  // One recover at a time on this machine (the tenants' locks guard each tenant besides).
  return withLockFile(path.join(ctx.config.stateDir, 'recover.lock'), async () => {
    const db = await ctx.adminDb();
    let run = await currentRun(db);
    let adminDatabase: RecoverResult['adminDatabase'] = 'already-restored';
    if (!run) {
      const contents = await adminContents(db);
      if (contents.tenants > 0 || contents.keyed) {
        throw new TenantctlError('conflict', `the admin database is not empty (${contents.tenants} tenants${contents.keyed ? ', a master key set up' : ''}) and no recovery is under way in it: recover restores only into a new, empty admin database`);
      }
      // Newest first; a cut-off snapshot (an admin-backup killed half-way) is passed over for the next older one.
      const candidates = await pickSnapshots(ctx, repo, input.snapshot as string | undefined);
      for (const [index, snapshot] of candidates.entries()) {
        run = {
          id: randomBytes(6).toString('hex'), snapshot: snapshot.id, snapshotTime: snapshot.time, snapshotHost: snapshot.host, repository: repo.location.display,
          frontdoor: snapshot.tags.find((t) => t.startsWith('frontdoor='))?.slice('frontdoor='.length) ?? null,
          startedAt: new Date(ctx.clock.now()).toISOString(), state: 'running',
        };
        try {
          await restoreAdminDb(ctx, db, repo, snapshot, run);
          break;
        } catch (error) {
          if (!(error instanceof CutOffSnapshot) || index === candidates.length - 1) throw error;
          ctx.reporter.info(`${error.message}; trying the next older one`);
        }
      }
      adminDatabase = 'restored';
    }
    if (!run) throw new TenantctlError('internal', 'recover restored no admin snapshot and recorded no run');
    await ctx.pause('recover:admin-restored');
    const box = await openSecretBox(db, { env: ctx.env, stateDir: ctx.config.stateDir, create: false });

    const records = (await new TenantRegistry(db).list()).filter((t) => recoverable.includes(t.status) || t.statusReason?.startsWith('being recovered'));
    const tenants: TenantOutcome[] = new Array(records.length);
    let next = 0;
    let stopped: unknown;
    // Whether each tenant fits its host, asked before anything of it is made; each host's free space measured once.
    const placement = new Placement(ctx);
    // `concurrency` workers take the next tenant in turn; a Ctrl-C ends each after its tenant's undo, the first cause kept.
    const worker = async () => {
      while (next < records.length && !ctx.signal.aborted) {
        const index = next++;
        const record = records[index]!;
        ctx.reporter.step(`recovering ${record.id}`);
        try {
          const target = await targetFor(ctx, hostName, record.host);
          tenants[index] = await recoverTenant(ctx, run!.id, record.id, target, input.backups ?? repositoryBackups, { repo, adminSnapshotTime: run!.snapshotTime }, placement);
        } catch (error) {
          if (ctx.signal.aborted) {
            // The interruption is the cause, whatever a call cut short by it threw.
            if (!stopped || (error instanceof TenantctlError && error.kind === 'interrupted')) {
              stopped = error instanceof TenantctlError ? error : new TenantctlError('interrupted', `recover of ${record.id} was interrupted: ${messageOf(error)}`, { cause: error });
            }
            return;
          }
          tenants[index] = { id: record.id, outcome: 'failed', status: record.status, reason: messageOf(error) };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, records.length) }, worker));
    if (stopped) throw stopped;
    if (ctx.signal.aborted) throw new TenantctlError('interrupted', 'recover was interrupted; run it again to go on');
    const frontdoor = await frontdoorAgain(ctx, run);
    run.state = 'completed';
    await saveRun(db, run);
    const durationMs = ctx.clock.now() - started;
    const recovered = tenants.filter((t) => t.outcome === 'recovered').length;
    const result: RecoverResult = {
      run: run!.id, repository: repo.location.display, snapshot: { id: run.snapshot, time: run.snapshotTime, host: run.snapshotHost },
      adminDatabase, masterKey: { fingerprint: box.fingerprint }, tenants, recovered,
      failed: tenants.filter((t) => t.outcome === 'failed' || t.outcome === 'skipped' || t.outcome === 'not-placed').length, frontdoor, durationMs,
      tenantsPerMinute: recovered === 0 ? 0 : Math.round((recovered / (durationMs / 60_000)) * 10) / 10,
    };
    if (result.failed > 0 || frontdoor.state === 'failed') throw new BatchFailure(result, `${result.failed} of ${tenants.length} tenants did not come back${frontdoor.state === 'failed' ? ', and the front door did not' : ''}`);
    return result;
  }, { what: 'waiting for another tenantctl recover on this machine', deadlineMs: 5_000, clock: ctx.clock, signal: ctx.signal });
}

async function pickSnapshots(ctx: Context, repo: Repository, wanted: string | undefined): Promise<AdminSnapshot[]> {
  const access = repo.location;
  ctx.reporter.step(`reading the admin snapshots in ${access.display}`);
  const all = await adminSnapshots(repo, ctx.signal);
  const snapshot = chooseSnapshot(all, wanted, ctx.clock.now(), access.display);
  ctx.reporter.step(`admin snapshot ${snapshot.shortId}: taken ${snapshot.time} on host ${snapshot.host}`);
  // The operator's --snapshot alone; else it and the older ones (all of one host, none in the future).
  return wanted ? [snapshot] : all;
}

/**
 * The admin snapshot recover restores: --snapshot, else the newest, but only when it cannot be
 * someone else's: snapshots of more than one host, or one dated in the future (a forged or
 * misdated snapshot would sort first), need the operator's --snapshot.
 */
export function chooseSnapshot(snapshots: AdminSnapshot[], wanted: string | undefined, now: number, where: string): AdminSnapshot {
  if (wanted) {
    const matches = snapshots.filter((s) => s.id.startsWith(wanted));
    if (matches.length > 1) throw usageError(`--snapshot ${wanted} names ${matches.length} admin snapshots in ${where}; give more of its id`);
    if (!matches[0]) throw new TenantctlError('notFound', `no admin snapshot ${wanted} in ${where}`);
    return matches[0];
  }
  const newest = snapshots[0];
  if (!newest) throw new TenantctlError('notFound', `no admin snapshot in ${where} (tenantctl admin-backup makes one)`);
  const list = (ss: AdminSnapshot[]) => ss.slice(0, 5).map((s) => `${s.shortId} (${s.time}, host ${s.host})`).join(', ');
  const hosts = [...new Set(snapshots.map((s) => s.host))];
  if (hosts.length > 1) throw usageError(`${where} holds admin snapshots of ${hosts.length} hosts (${hosts.join(', ')}): choose one with --snapshot; newest: ${list(snapshots)}`);
  const future = snapshots.filter((s) => Date.parse(s.time) > now + 5 * 60_000);
  if (future.length > 0) throw usageError(`admin snapshots dated in the future in ${where}: ${list(future)}; choose one with --snapshot`);
  return newest;
}

/** --host; else the host the record names, when this environment reaches it; else this environment's own host. */
async function targetFor(ctx: Context, hostName: string | undefined, recorded: string): Promise<DockerHost> {
  const db = await ctx.adminDb();
  if (hostName !== undefined) {
    const host = await dockerHostNamed(ctx, db, hostName);
    if (!host) throw new TenantctlError('notFound', `Docker host ${hostName} is neither this environment's (${ctx.dockerHost.id}) nor a registered host (tenantctl hosts add)`);
    return host;
  }
  const host = await dockerHostNamed(ctx, db, recorded);
  if (host && (host === ctx.dockerHost || (await probeHost(host, ctx.signal)).reachable)) return host;
  return ctx.dockerHost;
}

/** The front door set up again as the lost machine had it (a self-signed or ACME door); an operator's own certificate must be given again. */
async function frontdoorAgain(ctx: Context, run: RecoverRun): Promise<RecoverResult['frontdoor']> {
  if (!run.frontdoor) return { state: 'not-served-before' };
  if (run.frontdoor === 'operator') return { state: 'needs-operator', detail: 'the lost front door served the operator\'s own certificate: tenantctl frontdoor init --cert <file> --key <file>' };
  try {
    ctx.reporter.step(`setting the front door up again (${run.frontdoor})`);
    const { frontdoorInit } = await import('../frontdoor/commands.js');
    const result = await frontdoorInit(ctx, run.frontdoor === 'acme' ? { acme: true } : { selfSigned: true });
    return { state: 'serving', detail: `generation ${result.generation}, ${result.routes.length ?? 0} routes` };
  } catch (error) {
    return { state: 'failed', detail: messageOf(error) };
  }
}
