import type { Command } from 'commander';
import type { Context } from '../context.js';

// What command actions call. The runner itself (config, zod, pg, the compose client) is imported
// only when a command actually runs, so `--help` and argument errors stay instant.

export async function withContext<T>(
  command: Command,
  work: (ctx: Context) => Promise<T>,
  render: ((result: T) => string) | null,
  options?: import('./with-context.js').WithContextOptions,
): Promise<void> {
  const runner = await import('./with-context.js');
  return runner.withContext(command, work, render, options);
}

export async function confirmInteractively(ids: string[]): Promise<boolean> {
  const { confirmInteractively } = await import('./confirm.js');
  return confirmInteractively(ids);
}
