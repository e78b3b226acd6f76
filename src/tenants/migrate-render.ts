import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { MigrateBatchResult, MigrateResult } from './migrate.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const ownerChanges = { none: '', demoted: '; the owner role is no superuser now', separated: '; the owner role is no superuser now (separated from the bootstrap superuser)' } as const;

function describe(r: MigrateResult): string {
  const left = r.ownerLeftovers.length > 0 ? `; left by the old superuser owner, check: ${r.ownerLeftovers.join('; ')}` : '';
  const owner = (r.dryRun && r.ownerChange !== 'none' ? `; the owner role would be made no superuser (${r.ownerChange})` : ownerChanges[r.ownerChange]) + left;
  if (r.migrations.length === 0) return `up to date${owner}`;
  return `${r.dryRun ? 'would apply' : 'applied'} ${r.migrations.join(', ')}${owner}`;
}

export function renderMigrate(r: MigrateResult | MigrateBatchResult): string {
  if ('kind' in r) {
    if (r.tenants.length === 0) return 'No active tenants on this host.';
    const rows = r.tenants.map((i) => [i.id, i.ok ? chalk.green(describe(i.result)) : chalk.red(i.error.message)]);
    const s = r.summary;
    return `${table(['TENANT', r.dryRun ? 'PLAN' : 'RESULT'], rows)}\n\n${s.total} tenants: ${s.ok} ${r.dryRun ? 'checked' : 'migrated or up to date'}, ${s.failed} failed (${seconds(s.durationMs)})`;
  }
  return `${chalk.green('✓')} ${r.id}: ${describe(r)}  (${seconds(r.durationMs)})`;
}
