import chalk from 'chalk';
import { table } from '../common/text-table.js';
import type { OperationsResult } from './commands.js';

export function renderOperations(r: OperationsResult): string {
  if (r.operations.length === 0) return 'No unfinished operations.';
  const state = (o: OperationsResult['operations'][number]) => {
    if (o.state === 'running') return o.inFlight ? chalk.yellow('in flight') : chalk.red('interrupted');
    return o.state === 'completed' ? chalk.green(o.state) : o.state === 'failed' ? chalk.red(o.state) : o.state;
  };
  const rows = r.operations.map((o) => [String(o.id), o.tenant, o.verb, o.step, state(o), o.startedAt.replace(/\.\d+Z$/, 'Z'), o.actor, o.reason ?? '']);
  return table(['ID', 'TENANT', 'VERB', 'STEP', 'STATE', 'STARTED', 'BY', 'REASON'], rows);
}

export function renderAbandoned(r: { abandoned: string }): string {
  return `${chalk.yellow('!')} abandoned the ${r.abandoned}: closed as failed, its effects left as they are`;
}
