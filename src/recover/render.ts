import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { AdminBackupResult } from './admin-backup.js';
import type { RecoverResult } from './recover.js';
import { describeAge } from './backup-candidates.js';

// Human renderings of `admin-backup` and `recover`; --json prints the data.

export function renderAdminBackup(r: AdminBackupResult): string {
  return `${chalk.green('✓')} admin database backed up: snapshot ${r.snapshot.slice(0, 8)} in ${r.repository} (${(r.bytes / 1e6).toFixed(2)} MB, ${(r.durationMs / 1000).toFixed(1)} s, ${r.MBps} MB/s); the master key is not in it: keep it apart`;
}

export function renderRecover(r: RecoverResult): string {
  const rows = r.tenants.map((t) => [
    t.id,
    t.outcome === 'recovered' || t.outcome === 'already-recovered' ? chalk.green(t.outcome) : chalk.red(t.outcome),
    t.status ?? '-',
    t.host ?? '-',
    t.backup ?? '-',
    t.source === undefined ? '-' : `${t.source === 'repository' ? 'repository only' : 'admin record'}${t.newerThanAdminSnapshotMs === undefined ? '' : `, ${describeAge(t.newerThanAdminSnapshotMs)}`}`,
    t.durationMs === undefined ? '-' : `${(t.durationMs / 1000).toFixed(1)} s`,
    [t.reason, t.passedOver?.length ? `passed over: ${t.passedOver.map((p) => `${p.backup} (${p.reason})`).join('; ')}` : undefined].filter(Boolean).join('; '),
  ]);
  // Every backup each tenant's recover looked at, and what it made of it.
  const considered = r.tenants.filter((t) => t.considered?.length).flatMap((t) => [
    `  ${t.id}:`,
    ...t.considered!.map((c) => `    ${c.backup}${c.time ? ` (${c.time})` : ''}: ${c.decision === 'chosen' ? chalk.green('chosen') : c.decision}: ${c.reason}`),
  ]);
  const door = r.frontdoor.state === 'serving' ? chalk.green('serving') : r.frontdoor.state === 'not-served-before' ? 'not set up (the lost machine had none)' : chalk.yellow(r.frontdoor.state);
  return [
    `admin database ${r.adminDatabase === 'restored' ? 'restored' : 'already restored by an earlier run'} from snapshot ${r.snapshot.id.slice(0, 8)} (${r.snapshot.time}) of ${r.repository}; master key ${r.masterKey.fingerprint} opens it`,
    table(['TENANT', 'OUTCOME', 'STATUS', 'HOST', 'BACKUP', 'SOURCE', 'TOOK', 'WHY'], rows),
    ...(considered.length > 0 ? ['backups considered:', ...considered] : []),
    `front door: ${door}${r.frontdoor.detail ? ` (${r.frontdoor.detail})` : ''}`,
    `${r.recovered} recovered, ${r.failed} not, in ${(r.durationMs / 1000).toFixed(1)} s (${r.tenantsPerMinute} tenants per minute); run ${r.run}`,
  ].join('\n');
}
