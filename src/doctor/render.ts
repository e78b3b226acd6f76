import chalk from 'chalk';
import type { DoctorResult } from './doctor.js';

export function renderDoctor(r: DoctorResult): string {
  const checked = `checked ${r.checked.tenants} tenants, ${r.checked.stacks} stacks, ${r.checked.allocations} allocations, ${r.checked.folders} folders on host ${r.host}`;
  if (r.findings.length === 0) return `${chalk.green('✓')} nothing to fix: ${checked}`;
  const lines = r.findings.map((f) => {
    const state = f.fixed === true ? chalk.green('fixed') : f.fixed === false ? chalk.red(`fix failed: ${f.fixError}`) : f.fixable ? chalk.yellow('fixable with --fix') : chalk.yellow('needs you');
    return `${chalk.bold(f.kind)} ${f.tenant || f.host}: ${f.detail}\n    ${state}${f.fixed ? '' : `  ${chalk.dim('→')} ${f.fix}`}`;
  });
  const open = r.findings.filter((f) => f.fixed !== true).length;
  return [...lines, '', `${r.findings.length} discrepancies (${open} open); ${checked}`].join('\n');
}
