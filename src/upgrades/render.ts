import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { UpgradeBatchResult, UpgradeResult } from './upgrade.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

function changes(r: UpgradeResult): string {
  const parts: string[] = [];
  for (const [service, image] of Object.entries(r.to.images)) {
    const was = r.from.images[service];
    if (!was || was.id !== image.id) parts.push(`${service} ${was ? `${shortId(was.id)} → ` : ''}${image.tag}@${shortId(image.id)}`);
  }
  if (r.from.plan !== r.to.plan) parts.push(`plan ${r.from.plan} → ${r.to.plan}`);
  if (r.from.templateChecksum !== r.to.templateChecksum) parts.push(`template ${r.from.templateChecksum.slice(0, 12)} → ${r.to.templateChecksum.slice(0, 12)}`);
  return parts.join('; ') || 'configuration';
}

function line(r: UpgradeResult): string {
  if (r.outcome === 'unchanged') return 'unchanged (the new render and images are what runs)';
  return `${changes(r)}; recreated ${r.recreated.join(', ') || 'nothing'}`;
}

export function renderUpgrade(r: UpgradeResult | UpgradeBatchResult): string {
  if ('kind' in r) {
    const rows = r.tenants.map((t) => [
      t.id + (t.id === r.canary ? chalk.dim(' (canary)') : ''),
      t.ok ? chalk.green(t.result.outcome) : t.error.code === 'skipped' ? chalk.yellow('skipped') : chalk.red('failed'),
      t.ok ? line(t.result) : t.error.message,
    ]);
    const s = r.summary;
    return `${table(['TENANT', 'RESULT', 'DETAIL'], rows)}\n\n${s.total} tenants: ${s.upgraded} upgraded, ${s.unchanged} unchanged, ${s.failed} failed, ${s.skipped} not started (${seconds(s.durationMs)})`;
  }
  return `${chalk.green('✓')} ${r.id} ${r.outcome === 'upgraded' ? 'upgraded and ready' : 'unchanged'}: ${line(r)}  (${seconds(r.durationMs)})`;
}
