import type { Command } from 'commander';

// Every command tenantctl has, in the order `tenantctl --help` lists them. Only the summary is
// loaded up front; a command's flags, help and action are defined by its own module, imported
// when that command (or its help) is asked for, so start-up does not grow with the command count.

export interface CommandEntry {
  name: string;
  summary: string;
  /** Defines the command's arguments, options, help text and action on `command`. */
  load: () => Promise<{ define: (command: Command) => void }>;
}

export const commandTable: readonly CommandEntry[] = [
  { name: 'provision', summary: 'create tenants\' stacks, wait until they are healthy, apply their schema and record them', load: () => import('./commands/provision.js') },
  { name: 'deprovision', summary: 'remove tenants\' containers, network, volumes and files, and mark them deprovisioned', load: () => import('./commands/deprovision.js') },
  { name: 'list', summary: 'list tenants on record (deprovisioned ones only with --all)', load: () => import('./commands/list.js') },
  { name: 'status', summary: 'show one tenant: record, URL, ports, and each service\'s live state and health', load: () => import('./commands/status.js') },
  { name: 'secrets', summary: 'show a tenant\'s passwords, decrypted with the master key (the view is audited)', load: () => import('./commands/secrets.js') },
  { name: 'modules', summary: 'feature modules: the catalogue with prices, and which ones a tenant has', load: () => import('./commands/modules.js') },
  { name: 'keys', summary: 'API keys for a tenant\'s API: create (shown once), list, revoke', load: () => import('./commands/keys.js') },
  { name: 'audit', summary: 'show the audit log, newest first: who changed what (old and new values), for all tenants or one', load: () => import('./commands/audit.js') },
];

/** Global options that take a value: the word after them is that value, not a command name. */
const globalOptionsWithValue = new Set(['-c', '--config']);

/**
 * The command argv names (or asks help for: `help provision`), if any: the first word that is not
 * a global option or a global option's value.
 */
export function invokedCommand(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (globalOptionsWithValue.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    if (arg === 'help') return args[i + 1];
    return arg;
  }
  return undefined;
}
