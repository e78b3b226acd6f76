import chalk from 'chalk';
import type { DiskUsage, OverQuotaResult } from './disk-quota.js';
import { formatSize } from './size.js';

/** status's disk line: "  disk     1.2 GiB of 10.0 GiB (plan quota)", red when over. */
export function renderDisk(d: DiskUsage): string {
  if (d.usedBytes === null) return `  disk     ${chalk.dim(d.error ?? 'not measured')}`;
  const used = formatSize(d.usedBytes);
  if (d.quotaBytes === null) return `  disk     ${used} (no quota on its plan)`;
  const line = `${used} of ${formatSize(d.quotaBytes)} (its plan's quota)`;
  return `  disk     ${d.over ? chalk.red(`${line}: over quota`) : line}`;
}

export function renderOverQuota(r: OverQuotaResult): string {
  const lines = r.over.length === 0
    ? ['No tenant is over its plan\'s disk quota.']
    : r.over.map((t) => `${chalk.red('over')}  ${t.id} (${t.plan}, on ${t.host}): ${formatSize(t.usedBytes)} of ${formatSize(t.quotaBytes)}`);
  for (const u of r.unmeasured) lines.push(chalk.dim(`not measured on ${u.host}: ${u.reason}`));
  return lines.join('\n');
}
