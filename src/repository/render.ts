import chalk from 'chalk';
import type { RepositoryCheckResult, RepositoryInitResult, RepositoryStatusResult } from './commands.js';

// Human renderings of `repository init|status|check`; --json prints the same data.

const size = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);

export function renderInit(r: RepositoryInitResult): string {
  const what = r.outcome === 'created' ? 'created' : r.outcome === 'adopted' ? 'adopted (it existed; the password given opens it)' : 'already set up';
  return `${chalk.green('✓')} repository ${chalk.bold(r.repository)} ${what}\n  password  sealed with the master key (${r.passwordSealedIn}); never printed`;
}

export function renderStatus(r: RepositoryStatusResult): string {
  return [
    `repository  ${chalk.bold(r.repository)} (${r.backend})`,
    `password    ${r.passwordFrom === 'file' ? 'from TENANTCTL_BACKUP_REPOSITORY_PASSWORD_FILE' : 'sealed in the admin database'}`,
    `snapshots   ${r.snapshots} (${r.tenantSnapshots} of ${r.tenants} tenant${r.tenants === 1 ? '' : 's'}), latest ${r.latest ?? '-'}`,
    `size        ${size(r.storedBytes)} stored, ${size(r.restoreBytes)} restored`,
    ...(r.prune ? [`prune       ${r.prune.prunedAt ? `last ran ${r.prune.prunedAt}${r.prune.pruneMs === null ? '' : ` (${(r.prune.pruneMs / 1000).toFixed(1)} s)`}` : 'never ran'}; ${r.prune.owedSince ? `owed since ${r.prune.owedSince}, due ${r.prune.nextDueAt}` : 'none owed'} (every ${r.prune.intervalMinutes} min at most)`] : []),
  ].join('\n');
}

export function renderCheck(r: RepositoryCheckResult): string {
  return `${chalk.green('✓')} restic check of ${r.repository}: no errors${r.readData ? ` (read ${r.readData} of the data)` : ''} (${(r.durationMs / 1000).toFixed(1)} s)`;
}
