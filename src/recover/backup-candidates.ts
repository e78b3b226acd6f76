import { manifestFile } from '../backups/manifest.js';
import { tagOf, type Snapshot } from '../backups/in-repository.js';
import type { BackupRecord } from '../backups/store.js';

// Which backups of a tenant recover may restore, newest first (pure: the unit tests give it
// snapshot lists and admin rows). The admin database recover restored is up to one admin-backup
// interval old; the tenant's backups taken since are in the repository but not in it. So the
// repository is read too: its snapshots of the tenant, grouped by their backup= tag, are backups
// as much as the recorded ones. Only snapshots tenantctl wrote for this tenant on the tenant's host
// count: tags tenantctl, tenant=<id>, backup=<id>-..., no kind= tag (WAL, base backups, the admin
// database), restic host the tenant's host, one path tenantctl/<id>/<file>. A group is a candidate
// when the admin database does not say it failed or was pruned and it holds a manifest.json (a
// backup writes its manifest last, after every piece was read back and compared); the caller then
// reads the manifest and every file back and checks them (tenant-backups.ts) before choosing it.

export type BackupOrigin =
  /** Succeeded in the restored admin database. */
  | 'admin-record'
  /** In the repository only (taken after the admin snapshot, or running when it was taken). */
  | 'repository';

export interface BackupCandidate {
  backup: string;
  origin: BackupOrigin;
  /** When its last file was written (restic's time of its newest snapshot), or a folder backup's finish. */
  time: string;
  /** Each file of the backup -> its snapshot id; empty for a folder backup. */
  snapshots: Record<string, string>;
  /** The restic host its snapshots were written as (the tenant's host, or another the admin database knows). */
  host?: string;
  /** A folder backup (recorded, not in the repository): its directory. */
  directory?: string;
  /** The manifest's SHA-256 as recorded when the backup was made (admin-record only). */
  manifestSha256: string | null;
}

export interface SkippedBackup {
  backup: string;
  reason: string;
}

type Recorded = Pick<BackupRecord, 'id' | 'tenant' | 'host' | 'state' | 'reason' | 'repository' | 'directory' | 'snapshots' | 'manifestSha256' | 'startedAt' | 'finishedAt'>;

/** The file a tenantctl snapshot of this tenant holds (its one path tenantctl/<tenant>/<file>), else undefined. */
export function fileOf(snapshot: Pick<Snapshot, 'paths'>, tenant: string): string | undefined {
  if (snapshot.paths.length !== 1) return undefined;
  const prefix = `tenantctl/${tenant}/`;
  const p = snapshot.paths[0]!.replace(/^\/+/, '');
  if (!p.startsWith(prefix)) return undefined;
  const file = p.slice(prefix.length);
  return file !== '' && !file.includes('/') ? file : undefined;
}

/** Whether tenantctl wrote this snapshot as part of a backup of `tenant` on `host`. */
export function isTenantBackupSnapshot(s: Snapshot, tenant: string, host: string): boolean {
  const backup = tagOf(s, 'backup');
  return (s.tags ?? []).includes('tenantctl') && tagOf(s, 'tenant') === tenant && tagOf(s, 'kind') === undefined
    && backup !== undefined && backup.startsWith(`${tenant}-`) && s.hostname === host && fileOf(s, tenant) !== undefined;
}

const newer = (a: string, b: string) => Date.parse(a) - Date.parse(b);

/**
 * `foundByRecover`: backups an earlier run of a recover found in the repository and recorded
 * (their audit rows): still 'repository' in the summary of a recover run again after a kill.
 */
export function backupCandidates(input: { tenant: string; host: string; knownHosts?: readonly string[]; snapshots: readonly Snapshot[]; recorded: readonly Recorded[]; foundByRecover?: ReadonlySet<string> }): { candidates: BackupCandidate[]; skipped: SkippedBackup[] } {
  const { tenant, host } = input;
  const recorded = new Map(input.recorded.filter((r) => r.tenant === tenant).map((r) => [r.id, r]));
  // A tenant moved since the admin snapshot was backed up on its new host: any host the admin
  // database knows counts (the manifest's tenant and id are checked when it is read back); a
  // group written as another host is passed over, said with its host.
  const hosts = new Set([host, ...(input.knownHosts ?? [])]);
  const groups = new Map<string, Snapshot[]>();
  const unknownHost = new Map<string, string>();
  for (const s of input.snapshots) {
    if (!isTenantBackupSnapshot(s, tenant, s.hostname)) continue;
    const backup = tagOf(s, 'backup')!;
    if (!hosts.has(s.hostname)) { unknownHost.set(backup, s.hostname); continue; }
    groups.set(backup, [...(groups.get(backup) ?? []), s]);
  }
  const candidates: BackupCandidate[] = [];
  const skipped: SkippedBackup[] = [];
  for (const [backup, other] of unknownHost) {
    if (!groups.has(backup)) skipped.push({ backup, reason: `written as restic host ${other}, which the admin database does not know` });
  }
  for (const [backup, snaps] of groups) {
    const row = recorded.get(backup);
    if (row?.state === 'failed') { skipped.push({ backup, reason: `recorded as failed${row.reason ? ` (${row.reason})` : ''}: its snapshots are what a failed run left` }); continue; }
    if (row?.state === 'pruned') { skipped.push({ backup, reason: 'recorded as pruned by retention' }); continue; }
    const byFile: Record<string, string> = {};
    let problem: string | undefined;
    const files = new Map<string, Snapshot[]>();
    for (const s of snaps) files.set(fileOf(s, tenant)!, [...(files.get(fileOf(s, tenant)!) ?? []), s]);
    for (const [file, those] of files) {
      // A row that names the file's snapshot decides between two; without one, two snapshots of a file are not one backup.
      const named = row?.snapshots[file];
      const chosen = named ? those.find((s) => s.id === named || s.id.startsWith(named)) : those.length === 1 ? those[0] : undefined;
      if (!chosen) { problem = named ? `its recorded snapshot of ${file} is not in the repository` : `${those.length} snapshots of ${file} carry its tag`; break; }
      byFile[file] = chosen.id;
    }
    if (!problem && row?.state === 'succeeded') {
      const missing = Object.keys(row.snapshots).filter((f) => !byFile[f]);
      if (missing.length > 0) problem = `its recorded snapshot${missing.length === 1 ? '' : 's'} of ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the repository`;
    }
    if (!problem && !byFile[manifestFile]) problem = `no ${manifestFile} in the repository: a run that never finished (killed or failed before its manifest)`;
    if (problem) { skipped.push({ backup, reason: problem }); continue; }
    const time = snaps.map((s) => s.time).sort(newer).pop()!;
    candidates.push({
      backup, origin: row?.state === 'succeeded' && !input.foundByRecover?.has(backup) ? 'admin-record' : 'repository', time, snapshots: byFile, host: snaps[0]!.hostname,
      manifestSha256: row?.state === 'succeeded' ? row.manifestSha256 : null,
    });
  }
  // Succeeded folder backups the admin database records (a folder that survived the machine): the caller checks the folder is there.
  for (const row of recorded.values()) {
    if (row.state !== 'succeeded' || row.repository !== null || groups.has(row.id)) continue;
    candidates.push({ backup: row.id, origin: 'admin-record', time: row.finishedAt ?? row.startedAt, snapshots: {}, directory: row.directory, manifestSha256: row.manifestSha256 });
  }
  // A succeeded repository backup the admin database records but the repository no longer holds at all.
  for (const row of recorded.values()) {
    if (row.state === 'succeeded' && row.repository !== null && !groups.has(row.id)) skipped.push({ backup: row.id, reason: 'recorded as succeeded, but none of its snapshots (of this tenant and host) is in the repository' });
  }
  candidates.sort((a, b) => newer(b.time, a.time) || (b.backup < a.backup ? -1 : b.backup > a.backup ? 1 : 0));
  return { candidates, skipped };
}

/** "2 h 5 min newer than the admin snapshot", "10 min older than the admin snapshot": for recover's summary. */
export function describeAge(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const span = minutes >= 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes} min`;
  return `${span} ${ms >= 0 ? 'newer' : 'older'} than the admin snapshot`;
}

/** One backup recover looked at for a tenant, and what it made of it (its summary's `considered`). */
export interface ConsideredBackup {
  backup: string;
  origin?: BackupOrigin;
  time?: string;
  /** chosen: restored; passed-over: looked at and refused (why); not-read: older than the one chosen, never read. */
  decision: 'chosen' | 'passed-over' | 'not-read';
  /** The chosen one's kind: logical (a dump per piece, pg_restore) or physical (the PostgreSQL cluster's files). */
  method?: 'logical' | 'physical';
  reason: string;
}

/** What recover made of a candidate it read: chosen (of which kind; bare 'chosen' is logical), or passed over (why). */
export type Verdict = 'chosen' | { chosen: 'logical' | 'physical' } | { passedOver: string };
const chosenMethod = (v: Verdict | undefined) => (v === 'chosen' ? 'logical' : v && 'chosen' in v ? v.chosen : undefined);

/**
 * The newest candidate that `read` accepts, whatever its kind: logical and physical backups of a
 * tenant are one list by time (a plan's backupMethod may have changed, an operator may have taken
 * either), so the newest usable one wins. `read` verifies a candidate and says its kind, or throws;
 * `passOver` turns what it threw into the reason it is passed over (undefined: the error stops the
 * tenant, e.g. an interruption). Candidates older than the chosen one are never read.
 */
export async function chooseNewestUsable<T extends { method: 'logical' | 'physical' }>(
  candidates: readonly BackupCandidate[], read: (c: BackupCandidate) => Promise<T>, passOver: (error: unknown) => string | undefined,
): Promise<{ chosen?: { candidate: BackupCandidate; value: T }; verdicts: Map<string, Verdict>; passed: SkippedBackup[] }> {
  const verdicts = new Map<string, Verdict>();
  const passed: SkippedBackup[] = [];
  for (const candidate of candidates) {
    let value: T;
    try {
      value = await read(candidate);
    } catch (error) {
      const reason = passOver(error);
      if (reason === undefined) throw error;
      passed.push({ backup: candidate.backup, reason });
      verdicts.set(candidate.backup, { passedOver: reason });
      continue;
    }
    verdicts.set(candidate.backup, { chosen: value.method });
    return { chosen: { candidate, value }, verdicts, passed };
  }
  return { verdicts, passed };
}

/**
 * Every backup recover considered for a tenant, newest candidate first, then those passed over
 * before any reading (pure: the unit tests give it candidates and verdicts). `verdicts`: each
 * candidate read back -> 'chosen' or why it was passed over; a candidate without one was not read.
 */
export function consideredBackups(candidates: readonly BackupCandidate[], skipped: readonly SkippedBackup[], verdicts: ReadonlyMap<string, Verdict>): ConsideredBackup[] {
  const chosen = candidates.find((c) => chosenMethod(verdicts.get(c.backup)) !== undefined);
  const read = candidates.map((c): ConsideredBackup => {
    const verdict = verdicts.get(c.backup);
    const base = { backup: c.backup, origin: c.origin, time: c.time };
    const method = chosenMethod(verdict);
    if (method === 'physical') return { ...base, decision: 'chosen', method, reason: 'the newest that verifies, physical: its manifest and its files read back from the repository match (sizes and SHA-256; a file-level data snapshot by its listing); restored as the PostgreSQL cluster itself' };
    if (method) return { ...base, decision: 'chosen', method, reason: c.directory !== undefined ? 'the newest that verifies: its folder is here and its files match its manifest' : 'the newest that verifies: its manifest and every file read back from the repository match (sizes and SHA-256)' };
    if (verdict && typeof verdict === 'object' && 'passedOver' in verdict) return { ...base, decision: 'passed-over', reason: verdict.passedOver };
    return { ...base, decision: 'not-read', reason: chosen ? `older than ${chosen.backup}, which was chosen` : 'not read (the recover of this tenant stopped before it)' };
  });
  return [...read, ...skipped.map((s): ConsideredBackup => ({ backup: s.backup, decision: 'passed-over', reason: s.reason }))];
}
