import chalk from 'chalk';
import type { PitrRestoreResult } from './restore-to-time.js';
import type { PhysicalRestoreResult } from './restore-physical.js';
import type { ArchiveLag } from './ship.js';
import type { PitrBackupResult } from './backup.js';
import type { PitrArchiveStatus } from './status.js';

// Human renderings of point-in-time recovery; --json prints the same data.

export function renderPitrRestore(r: PitrRestoreResult): string {
  const lines = [
    `${chalk.green('✓')} ${r.id} restored to ${chalk.bold(r.targetTime)}${r.mode === 'new' ? ` (a new tenant, from ${r.source})` : ''}  (${(r.durationMs / 1000).toFixed(1)} s)`,
    `  from     base backup ${r.base.snapshotId.slice(0, 8)} (completed ${r.base.completedAt}) and ${r.walSnapshots} WAL batch(es)`,
    `  new base ${r.newBase ? r.newBase.slice(0, 8) : chalk.yellow('none (run tenantctl backup)')}`,
  ];
  if (r.url) lines.push(`  url      ${r.url}`);
  if (r.initialApiKey) lines.push(`  api key  ${r.initialApiKey.key}  (shown once)`);
  return lines.join('\n');
}

export function renderPhysicalRestore(r: PhysicalRestoreResult): string {
  const lines = [
    `${chalk.green('✓')} ${r.id} restored from physical backup ${chalk.bold(r.from)}${r.mode === 'new' ? ` (a new tenant, from ${r.source})` : ''}  (${(r.durationMs / 1000).toFixed(1)} s)`,
    `  cluster  as it was at ${r.backupTime} (every database of its PostgreSQL${r.others.length > 0 ? `; ${r.others.join(', ')} as the backup took them` : ''})`,
  ];
  if (r.modulesChanged.length > 0) lines.push(`  modules  ${r.modulesChanged.join(', ')}`);
  for (const left of r.leftBehind ?? []) lines.push(`  ${chalk.yellow('left')}     ${left}`);
  if (r.url) lines.push(`  url      ${r.url}`);
  if (r.initialApiKey) lines.push(`  api key  ${r.initialApiKey.key}  (shown once)`);
  return lines.join('\n');
}

export function renderArchiveStatus(a: PitrArchiveStatus): string {
  if (!a) return '';
  if ('error' in a) return `  archive  unknown: ${a.error}`;
  return renderArchiveLag(a);
}

export function renderArchiveLag(a: ArchiveLag): string {
  if (a.lastError) return `  archive  ${chalk.red(`shipping failed: ${a.lastError}`)} (${a.waiting} segment(s) waiting)`;
  if (a.lagSeconds === null) return `  archive  nothing shipped yet (${a.waiting} waiting)`;
  const lag = a.lagSeconds < 120 ? `${a.lagSeconds} s` : `${Math.round(a.lagSeconds / 60)} min`;
  return `  archive  newest shipped WAL ${a.newestSegment} archived ${lag} ago, ${a.waiting} waiting in the volume`;
}

/** The base backups `backup` added to its result (one tenant's or a batch's), a line each. */
export function renderPitrBackups(result: unknown): string[] {
  const r = result as { kind?: string; tenant?: string; pitr?: PitrBackupResult; tenants?: Array<{ id: string; ok: boolean; result?: { pitr?: PitrBackupResult } }> };
  if (r.kind === 'batch') return (r.tenants ?? []).flatMap((t) => (t.ok && t.result?.pitr ? [renderPitrBackup(t.id, t.result.pitr)] : []));
  return r.pitr && r.tenant ? [renderPitrBackup(r.tenant, r.pitr)] : [];
}

export function renderPitrBackup(id: string, p: PitrBackupResult): string {
  return `  pitr     base backup ${p.base.snapshotId.slice(0, 8)} of ${id} (${(p.base.bytes / 1e6).toFixed(1)} MB), ${p.shipped} WAL file(s) shipped`;
}
