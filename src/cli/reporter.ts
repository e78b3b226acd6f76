import chalk from 'chalk';
import type { Reporter } from '../context.js';

/** Progress lines on stderr: a step, its duration when the next starts, compose's lines with --verbose. */
export function makeReporter(options: { quiet?: boolean; verbose?: boolean }): Reporter & { currentStep(): string | undefined } {
  const quiet = options.quiet === true;
  let current: { label: string; at: number } | undefined;
  const finish = () => {
    if (current && !quiet) process.stderr.write(`${chalk.dim(`  done in ${((Date.now() - current.at) / 1000).toFixed(1)} s`)}\n`);
    current = undefined;
  };
  return {
    step(label) {
      finish();
      current = { label, at: Date.now() };
      if (!quiet) process.stderr.write(`${chalk.cyan('›')} ${label}\n`);
    },
    info(message) {
      if (!quiet) process.stderr.write(`  ${message}\n`);
    },
    detail(line) {
      if (options.verbose) process.stderr.write(chalk.dim(`    ${line}\n`));
    },
    end: finish,
    /** The step under way (for "interrupted while ..."). */
    currentStep: () => current?.label,
  };
}
