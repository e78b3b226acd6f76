import chalk from 'chalk';
import type { ModuleChangeResult, ModulesListResult } from './commands.js';
import { table } from '../common/text-table.js';

// Human renderings of `modules list|enable|disable`; --json prints the data.

const usd = (amount: number) => `$${amount.toFixed(2)}`;
const when = (at: string | null) => (at ? at.slice(0, 19).replace('T', ' ') : '-');

export function renderModules(r: ModulesListResult): string {
  if (r.customerId === null) {
    return table(
      ['MODULE', 'NAME', 'PER MONTH', 'DEFAULT', 'DESCRIPTION'],
      r.modules.map((m) => [m.key, m.name, usd(m.monthlyPrice), m.defaultEnabled ? 'on' : '-', m.description]),
    );
  }
  const enabled = r.modules.filter((m) => m.enabled).length;
  const billed = r.mrr === null ? `not billed while ${r.status}` : `MRR ${chalk.bold(usd(r.mrr))}`;
  return [
    `${r.customerId} (${r.status}): ${enabled} of ${r.modules.length} modules enabled; ${billed}`,
    '',
    table(
      ['MODULE', 'NAME', 'PER MONTH', 'STATE', 'SINCE'],
      r.modules.map((m) => [m.key, m.name, usd(m.monthlyPrice), m.enabled ? chalk.green('on') : chalk.dim('off'), when(m.enabled ? m.enabledAt : m.disabledAt)]),
    ),
  ].join('\n');
}

export function renderModuleChange(r: ModuleChangeResult): string {
  const state = r.enabled ? 'enabled' : 'disabled';
  const billed = r.mrr === null ? '' : `; MRR ${usd(r.mrr)}`;
  if (!r.changed) return `${chalk.green('✓')} ${r.module} was already ${state} for ${r.customerId} (nothing changed)${billed}`;
  return `${chalk.green('✓')} ${r.module} ${state} for ${r.customerId}${billed}`;
}

