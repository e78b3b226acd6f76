import chalk from 'chalk';
import type { RotateResult } from './rotate.js';

export function renderRotate(r: RotateResult): string {
  return `${chalk.green('✓')} ${r.id}: rotated ${r.rotated.join(', ')}; recreated ${r.recreated.join(', ') || 'nothing'}; ready with the new secrets  (${(r.durationMs / 1000).toFixed(1)} s)`;
}
