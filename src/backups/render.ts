import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { BackupBatchResult, BackupResult } from './backup.js';
import type { BackupsResult } from './list.js';
import type { RestoreResult } from './restore.js';
import type { CloneResult } from './clone.js';

// Human renderings of backup, backups and restore. --json prints the same data as JSON.

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function megabytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

export function renderBackup(r: BackupResult | BackupBatchResult): string {
  if ('kind' in r) {
    const rows = r.tenants.map((i) => [i.id, i.ok ? chalk.green(i.result.id) : chalk.red('failed'), i.ok ? `${megabytes(i.result.sizeBytes)}  ${seconds(i.result.durationMs)}` : i.error.message]);
    const s = r.summary;
    const left = (r.warnings ?? []).map((w) => `\n${chalk.yellow('warning')}  ${w}`).join('');
    return `${table(['TENANT', 'BACKUP', 'DETAIL'], rows)}\n\n${s.total} tenants: ${s.ok} backed up, ${s.failed} failed (${seconds(s.durationMs)})${left}`;
  }
  const lines = [
    `${chalk.green('✓')} ${r.tenant} backed up${r.method === 'physical' ? ` physically (its PostgreSQL cluster ${Object.keys(r.files).some((f) => f.endsWith('.pgdata.tar')) ? 'as pg_basebackup\'s tar' : 'file-level'})` : ''}: ${chalk.bold(r.id)}  (${megabytes(r.sizeBytes)}, ${seconds(r.durationMs)})`,
    r.repository ? `  in       ${r.repository} (restic snapshots ${Object.values(r.snapshots ?? {}).join(', ')})` : `  folder   ${r.directory}`,
    `  files    ${Object.entries(r.files).map(([name, f]) => `${name} ${megabytes(f.bytes)}`).join(', ')} (sizes and SHA-256 in manifest.json)`,
    `  restore  tenantctl restore ${r.tenant} --from ${r.id}`,
  ];
  if (r.pruned.length > 0) lines.push(`  removed  ${r.pruned.join(', ')} (--keep)`);
  for (const w of r.warnings ?? []) lines.push(`  ${chalk.yellow('warning')}  ${w}`);
  return lines.join('\n');
}

export function renderBackups(r: BackupsResult): string {
  if (r.backups.length === 0) return r.tenant ? `No backups of ${r.tenant}.` : 'No backups.';
  const state = (b: BackupsResult['backups'][number]) => {
    if (b.stale) return chalk.red('stale');
    if (b.state === 'succeeded') return chalk.green(b.state);
    if (b.state === 'failed') return chalk.red(b.state);
    return b.state === 'running' ? chalk.yellow(b.state) : chalk.dim(b.state);
  };
  const rows = r.backups.map((b) => [
    b.method === 'physical' ? `${b.id} (physical)` : b.id, b.tenant, state(b), b.sizeBytes === null ? '-' : megabytes(b.sizeBytes), b.startedAt.replace(/\.\d+Z$/, 'Z'),
    b.state === 'failed' ? (b.reason ?? '') : b.stale ? `no heartbeat since ${b.heartbeatAt.replace(/\.\d+Z$/, 'Z')}: its process is gone` : b.repositoryDisplay ? `${b.repositoryDisplay} (restic, tag backup=${b.id})` : b.directory,
  ]);
  return table(['BACKUP', 'TENANT', 'STATE', 'SIZE', 'STARTED', 'FOLDER / REASON'], rows);
}

export function renderRestore(r: RestoreResult): string {
  const lines = [
    `${chalk.green('✓')} ${r.id} restored from ${chalk.bold(r.from)}${r.source !== r.id ? ` (a backup of ${r.source})` : ''} and ready: ${chalk.bold(r.url ?? '-')}  (${seconds(r.durationMs)})`,
  ];
  if (r.mode === 'kept') lines.push('  provisioned again on its kept data, which the backup replaced; API keys are not restored');
  else if (r.outcome === 'provisioned-and-restored') lines.push(`  provisioned first, with new passwords; API keys are not restored`);
  if (r.modulesChanged.length > 0) lines.push(`  modules  ${r.modulesChanged.join(', ')}`);
  if (r.initialApiKey) lines.push(`  api key  ${r.initialApiKey.key}  (shown once)`);
  return lines.join('\n');
}

export function renderClone(r: CloneResult): string {
  const lines = [
    `${chalk.green('✓')} ${r.id} cloned from ${r.source} and ready: ${chalk.bold(r.url ?? '-')}  (${seconds(r.durationMs)})`,
    `  backup   ${r.backup} (kept: tenantctl backups ${r.source})`,
    '  its own passwords, ports and hostname; API keys are not copied',
  ];
  if (r.modulesChanged.length > 0) lines.push(`  modules  ${r.modulesChanged.join(', ')}`);
  if (r.initialApiKey) lines.push(`  api key  ${r.initialApiKey.key}  (shown once)`);
  return lines.join('\n');
}
